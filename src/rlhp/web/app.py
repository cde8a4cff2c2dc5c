"""The labelling API and page (SPEC §10).

Routes (JSON unless noted; every error is ``{"error": "…"}`` with a 4xx status and
leaves the store untouched):

* ``GET /`` the page (static HTML/JS/CSS, no build step);
* ``POST /api/name {"name"}`` remembers who is labelling (cookie ``rlhp_labeller``);
* ``GET /api/next?exclude=ID,…`` locks the next pair for this person and returns its
  clip URLs, or ``pair: null`` while no clips are ready;
* ``POST /api/answer {"pair_id", "choice"}`` stores an answer (choice: left, right,
  equal, cant_tell); a repeat by the same person is a no-op (``stored: false``);
* ``GET /api/progress`` answers by you, by everyone, and the label budget;
* ``GET /clips/NAME.mp4`` a clip from ``RUN/clips`` (nothing else on disk is reachable).

With a token (required for any non-loopback address) every request must carry it: as
``?token=`` (the page's first load; then kept in an HttpOnly cookie), the
``X-Rlhp-Token`` header, or the cookie.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, unquote

from fastapi import Cookie, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.exceptions import HTTPException

from rlhp.labellers.base import Answer
from rlhp.store import LabelStore
from rlhp.store_engine import Location

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
NAME_COOKIE = "rlhp_labeller"
TOKEN_COOKIE = "rlhp_token"
CLIP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.mp4$")
MAX_NAME = 40
DEFAULT_INSTRUCTIONS = "Which clip shows the better behaviour?"


@dataclass(frozen=True)
class LabellingSettings:
    """What one labelling server serves."""

    run_dir: Path
    """The run directory: ``clips/`` (and ``labels.sqlite``, unless ``store`` says otherwise)."""
    store: Location | None = None
    """The label store: a path or database URL; None for ``run_dir/labels.sqlite``."""
    token: str | None = None
    """Access token every request must carry; None on loopback only."""
    instructions: str = DEFAULT_INSTRUCTIONS
    """The task instruction shown above the clips."""
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
    pair_id: StrictInt = Field(ge=1)
    choice: Literal["left", "right", "equal", "cant_tell"]


def _budget(run_dir: Path) -> int | None:
    try:
        config = json.loads((run_dir / "config.json").read_text())
        return int(config["schedule"]["labels"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _clean_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > MAX_NAME or any(not ch.isprintable() for ch in name):
        raise ApiError(400, f"a labeller name is 1 to {MAX_NAME} printable characters")
    return name


def create_app(settings: LabellingSettings, store: LabelStore | None = None) -> FastAPI:
    """The ASGI app; opens the run's store unless one is given."""
    run_dir = Path(settings.run_dir)
    clip_dir = (run_dir / "clips").resolve()
    store = store or LabelStore.open(
        settings.store if settings.store is not None else run_dir / "labels.sqlite"
    )
    budget = _budget(run_dir)
    app = FastAPI(title="rlhp labelling", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store

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

    # -- access token ------------------------------------------------------------------------

    @app.middleware("http")
    async def check_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if settings.token is None:
            return await call_next(request)
        given = (
            request.query_params.get("token")
            or request.headers.get("x-rlhp-token")
            or request.cookies.get(TOKEN_COOKIE)
            or ""
        )
        if not hmac.compare_digest(given.encode(), settings.token.encode()):
            return JSONResponse(
                {
                    "error": "this server needs an access token: open the URL with ?token=… "
                    "as printed by rlhp label"
                },
                status_code=401,
            )
        response: Response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, settings.token, httponly=True, samesite="strict")
        return response

    # -- helpers -------------------------------------------------------------------------------

    def who(cookie: str | None) -> str:
        if not cookie:
            raise ApiError(401, 'no labeller name yet: POST /api/name {"name": …} first')
        return _clean_name(unquote(cookie))

    def progress(name: str | None) -> dict[str, object]:
        counts = store.counts()
        ready, rendering = store.waiting_pairs()
        return {
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
        return {"instructions": settings.instructions, "retry_seconds": settings.retry_seconds}

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
        rlhp_labeller: Annotated[str | None, Cookie()] = None,
        exclude: Annotated[str, Query(max_length=200, pattern=r"^[0-9]*(,[0-9]+)*$")] = "",
    ) -> dict[str, object]:
        name = who(rlhp_labeller)
        skip = [int(x) for x in exclude.split(",") if x]
        claimed = store.claim_pair(name, settings.lock_seconds, skip, settings.answers_per_pair)
        pair = None
        if claimed is not None:
            pair = {
                "id": claimed.pair_id,
                "left": "/" + claimed.left_clip,
                "right": "/" + claimed.right_clip,
                "lock_expires": claimed.lock_expires,
            }
        return {"pair": pair, "progress": progress(name)}

    @app.post("/api/answer")
    def answer(
        body: AnswerIn, rlhp_labeller: Annotated[str | None, Cookie()] = None
    ) -> dict[str, object]:
        name = who(rlhp_labeller)
        stored = store.submit_answer(Answer(body.pair_id, body.choice, name, time.time()))
        if stored is None:
            raise ApiError(404, f"no pair {body.pair_id} in this run")
        return {"stored": stored, "progress": progress(name)}

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
