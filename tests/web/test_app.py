"""The labelling API with known answers: locks, idempotence, 4xx with the store untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rlhp.loop.run_dir import store_location
from rlhp.store.labels import LabelStore
from rlhp.web.app import LabellingSettings, create_app


def _client(run: Path, name: str | None = None, **settings: object) -> TestClient:
    app = create_app(LabellingSettings(run, store=store_location(run), **settings))  # type: ignore[arg-type]
    client = TestClient(app, base_url="http://127.0.0.1")
    if name is not None:
        assert client.post("/api/name", json={"name": name}).status_code == 200
    return client


def _dump(run: Path) -> list[tuple]:
    """Every row of the tables the API may write, for 'store untouched' checks."""
    db = sqlite3.connect(run / "labels.sqlite")
    rows = db.execute("SELECT * FROM answers").fetchall()
    rows += db.execute("SELECT id, locked_by, lock_expires FROM pairs").fetchall()
    db.close()
    return rows


def test_page_and_config_are_served(labelling_run: Path) -> None:
    client = _client(labelling_run, instructions="Keep the cart left")
    page = client.get("/")
    assert page.status_code == 200 and "<video" not in page.text and "app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/api/config").json()["instructions"] == "Keep the cart left"


def test_pairs_are_locked_to_one_person_at_a_time(labelling_run_any: Path) -> None:
    alice, bob = _client(labelling_run_any, "alice"), _client(labelling_run_any, "bob")

    def next_id(client: TestClient, exclude: list[int]) -> int | None:
        pair = client.get("/api/next", params={"exclude": ",".join(map(str, exclude))}).json()[
            "pair"
        ]
        return None if pair is None else pair["id"]

    seen: dict[str, list[int]] = {"alice": [], "bob": []}
    for _ in range(3):
        for name, client in (("alice", alice), ("bob", bob)):
            got = next_id(client, seen[name])
            if got is not None:
                seen[name].append(got)
    # 5 pairs have both clips (pair 6 is still rendering): alternating, never shared
    assert seen == {"alice": [1, 3, 5], "bob": [2, 4]}
    # asking again (e.g. after a reload) gives a person back their own locked pair
    assert next_id(alice, []) == 1
    assert next_id(bob, [2, 4]) is None


def test_an_expired_lock_frees_the_pair(labelling_run_any: Path) -> None:
    alice = _client(labelling_run_any, "alice", lock_seconds=-1.0)  # every lock has expired
    bob = _client(labelling_run_any, "bob")
    assert alice.get("/api/next").json()["pair"]["id"] == 1
    assert bob.get("/api/next").json()["pair"]["id"] == 1


def test_answers_are_stored_with_who_and_repeats_are_idempotent(labelling_run_any: Path) -> None:
    labelling_run = labelling_run_any
    alice = _client(labelling_run, "alice", answers_per_pair=2)
    bob = _client(labelling_run, "bob", answers_per_pair=2)
    pair = alice.get("/api/next").json()["pair"]["id"]
    first = alice.post("/api/answer", json={"pair_id": pair, "choice": "left"})
    assert first.status_code == 200 and first.json()["stored"] is True
    again = alice.post("/api/answer", json={"pair_id": pair, "choice": "right"})
    assert again.status_code == 200 and again.json()["stored"] is False
    # with two answers wanted per pair, a second person's answer is kept too
    assert (
        bob.post("/api/answer", json={"pair_id": pair, "choice": "equal"}).json()["stored"] is True
    )
    store = LabelStore.open(store_location(labelling_run))
    answers = store.answers()
    assert [(a.pair_id, a.choice, a.labeller) for a in answers] == [
        (pair, "left", "alice"),
        (pair, "equal", "bob"),
    ]
    assert all(a.answered_at > 0 for a in answers)
    (labelled,) = store.labelled_pairs()
    assert labelled.target == pytest.approx(0.75)  # mean of left (1) and equal (0.5)
    progress = alice.get("/api/progress").json()
    assert (progress["by_you"], progress["answered"], progress["answers"], progress["budget"]) == (
        1,
        1,
        2,
        40,
    )
    # the answered pair is released and never offered to alice again
    assert alice.get("/api/next").json()["pair"]["id"] != pair


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"pair_id": 1, "choice": "maybe"}, 422, "choice"),
        ({"pair_id": "1", "choice": "left"}, 422, "pair_id"),
        ({"pair_id": 0, "choice": "left"}, 422, "pair_id"),
        ({"pair_id": 999, "choice": "left"}, 404, "no pair 999"),
        ({"choice": "left"}, 422, "pair_id"),
        ({"pair_id": 1, "choice": "left", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_answers_are_refused_and_leave_the_store_untouched(
    labelling_run: Path, body: dict, status: int, says: str
) -> None:
    client = _client(labelling_run, "alice")
    before = _dump(labelling_run)
    response = client.post("/api/answer", json=body)
    assert response.status_code == status
    assert says in response.json()["error"]
    assert _dump(labelling_run) == before


def test_malformed_json_and_missing_name_are_4xx(labelling_run: Path) -> None:
    before = _dump(labelling_run)
    anonymous = _client(labelling_run)
    no_name = anonymous.post("/api/answer", json={"pair_id": 1, "choice": "left"})
    assert no_name.status_code == 401 and "name" in no_name.json()["error"]
    client = _client(labelling_run, "alice")
    broken = client.post(
        "/api/answer", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and "JSON" in broken.json()["error"]
    assert client.post("/api/name", json={"name": "   "}).status_code == 400
    assert client.post("/api/name", json={"name": "x" * 41}).status_code == 422
    assert client.get("/api/next", params={"exclude": "1;DROP"}).status_code == 422
    unknown = client.get("/api/nothing")
    assert unknown.status_code == 404 and "error" in unknown.json()
    assert client.delete("/api/answer").status_code == 405
    assert _dump(labelling_run) == before


@pytest.mark.parametrize(
    "url",
    [
        "/clips/../secret.txt",
        "/clips/..%2Fsecret.txt",
        "/clips/..%2F..%2Fsecret.txt",
        "/clips/%2E%2E%2Flabels.sqlite",
        "/clips/..%5Csecret.txt",
        "/clips/.hidden.mp4",
        "/clips/segment-000001.mp4%00.txt",
        "/clips//etc/passwd",
        "/static/../labels.sqlite",
        "/static/..%2F..%2Flabels.sqlite",
    ],
)
def test_clip_urls_cannot_leave_the_clip_folder(labelling_run: Path, url: str) -> None:
    client = _client(labelling_run, "alice")
    response = client.get(url)
    assert response.status_code in (400, 404)
    assert b"not for labellers" not in response.content and b"SQLite" not in response.content


def test_clips_are_served_with_range_support(labelling_run: Path) -> None:
    client = _client(labelling_run, "alice")
    pair = client.get("/api/next").json()["pair"]
    whole = client.get(pair["left"])
    assert whole.status_code == 200 and whole.content == b"fake mp4 \x01"
    assert whole.headers["content-type"] == "video/mp4"
    part = client.get(pair["left"], headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"fake"


def test_a_token_is_required_on_every_request(labelling_run: Path) -> None:
    secret = "s3cret-token"
    client = _client(labelling_run, token=secret)
    for url in ("/", "/api/progress", "/static/app.js", "/clips/segment-000001.mp4"):
        response = client.get(url)
        assert response.status_code == 401 and "token" in response.json()["error"]
    assert client.get("/", params={"token": "wrong-token"}).status_code == 401
    assert client.get("/api/config", headers={"X-Rlhp-Token": secret}).status_code == 200
    assert client.get("/", params={"token": secret}).status_code == 200
    # the page load set the cookie; the videos and API calls now carry it
    assert client.get("/clips/segment-000001.mp4").status_code == 200
    assert client.post("/api/name", json={"name": "carol"}).status_code == 200


def test_empty_state_says_how_many_are_rendering(labelling_run: Path) -> None:
    alice = _client(labelling_run, "alice")
    for _ in range(5):
        pair = alice.get("/api/next").json()["pair"]
        alice.post("/api/answer", json={"pair_id": pair["id"], "choice": "right"})
    body = alice.get("/api/next").json()
    assert body["pair"] is None
    assert body["progress"]["rendering"] == 1 and body["progress"]["ready"] == 0
