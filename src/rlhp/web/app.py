"""The labelling API and page (SPEC §10).

Routes (JSON unless noted; every error is ``{"error": "…"}`` with a 4xx status and
leaves the store untouched):

* ``GET /`` the page (static HTML/JS/CSS, no build step);
* ``GET /api/config`` the instruction, the retry interval and the undo window;
* ``POST /api/name {"name"}`` remembers who is labelling (cookie ``rlhp_labeller``);
* ``GET /api/next?exclude=ID,…`` locks the next pair for this person and returns its
  clip URLs, or ``pair: null`` while no clips are ready; 429 when this address's names
  already hold ``locks_per_address`` locks;
* ``POST /api/answer {"pair_id", "choice"}`` stores an answer (choice: left, right,
  equal, cant_tell); a repeat by the same person is a no-op (``stored: false``); 409
  when another person holds the pair's lock or it has all the answers it wants (the
  answer-lock rule of ``rlhp.store.labelling``);
* ``POST /api/correct {"pair_id", "choice"}`` the page's undo: a correction of this
  person's answer given less than ``UNDO_SECONDS`` ago, stored beside it (never over it);
* ``GET /api/progress`` answers by you, by everyone, the label budget, ``finished``;
* ``GET /clips/NAME.mp4`` a clip from ``RUN/clips`` (nothing else on disk is reachable).

``rlhp.web.guard`` bounds requests, checks the ``Host`` header and the token first.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, unquote

from fastapi import Cookie, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.exceptions import HTTPException

from rlhp.labellers.base import Answer
from rlhp.store.engine import Location
from rlhp.store.labelling import MAX_LOCKS_PER_NAME
from rlhp.store.labels import LabelStore
from rlhp.store.names import MAX_NAME, clean_name
from rlhp.web.guard import LOOPBACK_NAMES, RequestGuard

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
NAME_COOKIE = "rlhp_labeller"
CLIP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.mp4$")
MAX_ID = 2**62
"""Pair ids above this are refused (422) before they reach the database's 64-bit integers."""
DEFAULT_INSTRUCTIONS = "Which clip shows the better behaviour?"
INSTRUCTIONS_KEY = "instructions"
"""The store's ``meta`` entry holding the instruction the trainer's page was given."""
UNDO_SECONDS = 30.0
"""How long after an answer the server accepts its correction (the page offers 6 s)."""


@dataclass(frozen=True)
class LabellingSettings:
    """What one labelling server serves."""

    run_dir: Path
    """The run directory: ``clips/`` (and ``labels.sqlite``, unless ``store`` says otherwise)."""
    store: Location | None = None
    """The label store: a path or database URL; None for ``run_dir/labels.sqlite``."""
    token: str | None = None
    """Access token every request must carry; None on loopback only."""
    instructions: str | None = None
    """The task instruction shown above the clips; None: the one the trainer saved in the
    store (``rlhp train --instructions``), else ``DEFAULT_INSTRUCTIONS``."""
    hosts: tuple[str, ...] = LOOPBACK_NAMES
    """Host names the server answers to without a token (anything else: 421), besides
    the address ``LabellingServer`` listens on, which it adds; with a token any host name
    is accepted, the token being the check."""
    locks_per_address: int = 24
    """Locks the names used from one client address may hold together (anti-hoarding;
    each name holds at most ``MAX_LOCKS_PER_NAME``)."""
    lock_seconds: float = 120.0
    """How long a pair stays reserved for the person it was offered to (it covers the
    pair on screen and the preloaded next one)."""
    answers_per_pair: int = 1
    """Offer a pair until it has this many answers (more answers are still kept)."""
    retry_seconds: float = 3.0
    """How often the page asks again while no clips are ready."""


class ApiError(HTTPException):
    pass


class NameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=MAX_NAME)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pair_id: StrictInt = Field(ge=1, le=MAX_ID)
    choice: Literal["left", "right", "equal", "cant_tell"]


REFUSED = {
    "locked": "pair {} is being labelled by someone else; your answer was not needed",
    "answered": "pair {} already has the answers it needs; your answer was not needed",
}


def _budget(run_dir: Path) -> int | None:
    try:
        config = json.loads((run_dir / "config.json").read_text())
        return int(config["schedule"]["labels"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _clean_name(raw: str) -> str:
    """``rlhp.store.names.clean_name`` (the rule ``rlhp labels import`` applies too), as a 400."""
    try:
        return clean_name(raw)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc


def _name_of_cookie(cookie: str) -> str:
    """The name in a cookie this server set (``quote(name)``); anything else is refused."""
    try:
        raw = unquote(cookie, errors="strict")
    except UnicodeDecodeError:
        raw = None
    if raw is None or quote(raw) != cookie or _clean_name(raw) != raw:
        raise ApiError(400, "the name cookie is not one this page set; give your name again")
    return raw


class AddressNames:
    """Which names each client address used lately (for ``locks_per_address``)."""

    def __init__(self, keep_seconds: float) -> None:
        self.keep_seconds = keep_seconds
        self._seen: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def note(self, address: str, name: str, now: float) -> set[str]:
        """Record ``name`` for ``address``; returns the address's other recent names."""
        with self._lock:
            names = self._seen.setdefault(address, {})
            names[name] = now
            for old in [n for n, t in names.items() if t < now - self.keep_seconds]:
                del names[old]
            if len(self._seen) > 10_000:  # bounded memory: forget the quietest addresses
                self._seen = dict(list(self._seen.items())[-5_000:])
            return set(names) - {name}


def create_app(settings: LabellingSettings, store: LabelStore | None = None) -> FastAPI:
    """The ASGI app; opens the run's store unless one is given."""
    run_dir = Path(settings.run_dir)
    clip_dir = (run_dir / "clips").resolve()
    store = store or LabelStore.open(
        settings.store if settings.store is not None else run_dir / "labels.sqlite",
        writing=True,
    )
    budget = _budget(run_dir)
    instructions = (
        settings.instructions or store.meta_value(INSTRUCTIONS_KEY) or DEFAULT_INSTRUCTIONS
    )
    addresses = AddressNames(settings.lock_seconds)

    @lru_cache(maxsize=4096)
    def timeline(segment_id: int) -> dict[str, int | None]:
        """A clip's steps and the step its episode ended at (None: it goes on), for the
        page's timeline: the frames after the end are the "episode over" frame."""
        try:
            absorbing = store.segment(segment_id).absorbing
        except KeyError:
            return {"steps": None, "ended_at": None}
        ended = [i for i, a in enumerate(absorbing.tolist()) if a]
        return {"steps": len(absorbing), "ended_at": ended[0] if ended else None}

    app = FastAPI(title="rlhp labelling", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    hosts = None if settings.token is not None else frozenset(h.lower() for h in settings.hosts)
    app.add_middleware(RequestGuard, hosts=hosts, token=settings.token)

    # -- errors: always JSON that names the problem ---------------------------------------

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        detail = (
            exc.detail
            if exc.status_code != 404 or exc.detail != "Not Found"
            else "no such page or API route"
        )
        return JSONResponse({"error": str(detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return JSONResponse({"error": "bad request: " + "; ".join(problems)}, status_code=422)

    # -- helpers -------------------------------------------------------------------------------

    def who(cookie: str | None) -> str:
        if not cookie:
            raise ApiError(401, 'no labeller name yet: POST /api/name {"name": …} first')
        try:
            return _name_of_cookie(cookie)
        except ApiError as exc:  # 401: the page asks for the name again
            raise ApiError(401, exc.detail) from exc

    def progress(name: str | None) -> dict[str, object]:
        counts = store.counts()
        ready, rendering = store.waiting_pairs()
        return {
            "finished": budget is not None and counts.answered >= budget,
            "name": name,
            "by_you": store.answers_by(name) if name else 0,
            "answered": counts.answered,
            "answers": counts.answers,
            "asked": counts.pairs,
            "budget": budget,
            "ready": ready,
            "rendering": rendering,
        }

    # -- routes -------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/api/config")
    def config() -> dict[str, object]:
        return {
            "instructions": instructions,
            "retry_seconds": settings.retry_seconds,
            "undo_seconds": min(6.0, UNDO_SECONDS),
        }

    @app.post("/api/name")
    def set_name(body: NameIn) -> JSONResponse:
        name = _clean_name(body.name)
        response = JSONResponse({"name": name})
        response.set_cookie(NAME_COOKIE, quote(name), max_age=365 * 86400, samesite="strict")
        return response

    @app.get("/api/progress")
    def get_progress(rlhp_labeller: Annotated[str | None, Cookie()] = None) -> dict[str, object]:
        return progress(who(rlhp_labeller) if rlhp_labeller else None)

    @app.get("/api/next")
    def next_pair(
        request: Request,
        rlhp_labeller: Annotated[str | None, Cookie()] = None,
        exclude: Annotated[
            str, Query(max_length=400, pattern=r"^([0-9]{1,18}(,[0-9]{1,18})*)?$")
        ] = "",
    ) -> dict[str, object]:
        name = who(rlhp_labeller)
        address = request.client.host if request.client else "?"
        others = addresses.note(address, name, time.time())
        if store.locks_held(others) + MAX_LOCKS_PER_NAME > settings.locks_per_address:
            raise ApiError(
                429,
                f"the names used from {address} hold {settings.locks_per_address} pairs "
                "already; answer those first (locks expire after "
                f"{settings.lock_seconds:.0f} s)",
            )
        skip = [int(x) for x in exclude.split(",") if x]
        claimed = store.claim_pair(name, settings.lock_seconds, skip, settings.answers_per_pair)
        pair = None
        if claimed is not None:
            pair = {
                "id": claimed.pair_id,
                "left": "/" + claimed.left_clip,
                "right": "/" + claimed.right_clip,
                "lock_expires": claimed.lock_expires,
                "left_clip": timeline(claimed.left_id),
                "right_clip": timeline(claimed.right_id),
            }
        return {"pair": pair, "progress": progress(name)}

    @app.post("/api/answer", response_model=None)
    def answer(
        body: AnswerIn, rlhp_labeller: Annotated[str | None, Cookie()] = None
    ) -> dict[str, object] | JSONResponse:
        name = who(rlhp_labeller)
        given = Answer(body.pair_id, body.choice, name, time.time())
        outcome = store.submit_answer(given, settings.answers_per_pair)
        if outcome == "no_pair":
            raise ApiError(404, f"no pair {body.pair_id} in this run")
        if outcome in REFUSED:
            return JSONResponse(
                {"error": REFUSED[outcome].format(body.pair_id), "refused": outcome},
                status_code=409,
            )
        return {"stored": outcome == "stored", "progress": progress(name)}

    @app.post("/api/correct")
    def correct(
        body: AnswerIn, rlhp_labeller: Annotated[str | None, Cookie()] = None
    ) -> dict[str, object]:
        name = who(rlhp_labeller)
        outcome = store.correct_answer(body.pair_id, name, body.choice, UNDO_SECONDS)
        if outcome == "no_answer":
            raise ApiError(404, f"you have no answer to pair {body.pair_id} to change")
        if outcome == "too_late":
            raise ApiError(
                409, f"your answer to pair {body.pair_id} is older than {UNDO_SECONDS:.0f} s"
            )
        return {"corrected": True, "progress": progress(name)}

    @app.get("/clips/{name}")
    def clip(name: str) -> FileResponse:
        if not CLIP_NAME.match(name):
            raise ApiError(400, "a clip name is like segment-000001.mp4")
        path = (clip_dir / name).resolve()
        if path.parent != clip_dir or not path.is_file():
            raise ApiError(404, f"no clip {name}")
        return FileResponse(
            path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=3600"}
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
