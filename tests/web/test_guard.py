"""Issue 11's defects and security items, one known answer each: the Host check, size
limits, lock hoarding, huge ids, forged name cookies, the answer lock through the API,
undo as a correction, the finished state."""

from __future__ import annotations

import socket
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rlhp.loop.run_dir import store_location
from rlhp.store.labels import LabelStore
from rlhp.web.app import LabellingSettings, create_app
from rlhp.web.guard import MAX_BODY, host_name
from rlhp.web.server import LabellingServer, page_url


def _client(
    run: Path, name: str | None = None, host: str = "127.0.0.1", **settings: object
) -> TestClient:
    app = create_app(LabellingSettings(run, store=store_location(run), **settings))  # type: ignore[arg-type]
    client = TestClient(app, base_url=f"http://{host}")
    if name is not None:
        assert client.post("/api/name", json={"name": name}).status_code == 200
    return client


def _answers(run: Path) -> list[tuple]:
    db = sqlite3.connect(run / "labels.sqlite")
    rows = db.execute("SELECT pair_id, choice, labeller FROM answers ORDER BY id").fetchall()
    db.close()
    return rows


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8765", "127.0.0.1"),
        ("[::1]:80", "::1"),
        ("LocalHost", "localhost"),
        ("evil.example:8765", "evil.example"),
        ("", ""),
    ],
)
def test_host_names_are_read_from_the_header(header: str, name: str) -> None:
    assert host_name(header) == name


def test_a_foreign_host_is_refused_without_a_token(labelling_run: Path) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    client = _client(labelling_run)
    for url in ("/", "/api/progress", "/clips/segment-000001.mp4"):
        refused = client.get(url, headers={"Host": "evil.example:8765"})
        assert refused.status_code == 421 and "answers only to" in refused.json()["error"]
    assert client.get("/", headers={"Host": "localhost:8765"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8765"}).status_code == 200
    # with a token the token is the check: any host name (the machine's, a proxy's)
    tokened = _client(labelling_run, token="s3cret-token")
    assert (
        tokened.get(
            "/", params={"token": "s3cret-token"}, headers={"Host": "lab-machine:8765"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("host", "token", "url"),
    [
        ("127.0.0.2", None, "http://127.0.0.2:8765/"),
        ("::1", None, "http://[::1]:8765/"),
        ("fd00::7", "s3cret-token", "http://[fd00::7]:8765/?token=s3cret-token"),
        ("0.0.0.0", "s3cret-token", "http://127.0.0.1:8765/?token=s3cret-token"),
        ("::", "s3cret-token", "http://127.0.0.1:8765/?token=s3cret-token"),
    ],
)
def test_the_page_url_brackets_an_ipv6_host(host: str, token: str | None, url: str) -> None:
    assert page_url(host, 8765, token) == url


@pytest.mark.parametrize("token", ["abc+def#gh", "a&b=c%20d", "plain-token"])
def test_the_page_url_carries_any_token_back_unchanged(token: str) -> None:
    query = urllib.parse.urlsplit(page_url("127.0.0.1", 8765, token)).query
    assert urllib.parse.parse_qs(query) == {"token": [token]}


def _status(url: str, host_header: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Host": host_header} if host_header else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("host", "as_header"),
    [
        ("127.0.0.2", "127.0.0.2"),
        pytest.param(
            "::1",
            "[::1]",
            marks=pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here"),
        ),
    ],
)
def test_the_printed_url_opens_on_any_loopback_address(
    labelling_run: Path, host: str, as_header: str
) -> None:
    """``rlhp label RUN --host 127.0.0.2`` answers to the URL it prints, and still refuses
    a foreign host name and another loopback address it is not bound to."""
    server = LabellingServer(LabellingSettings(labelling_run), host, 0).start()
    try:
        assert server.url == f"http://{as_header}:{server.port}/"
        assert _status(server.url) == 200
        assert _status(server.url + "api/config", f"{as_header}:{server.port}") == 200
        assert _status(server.url, "localhost") == 200
        assert _status(server.url, f"evil.example:{server.port}") == 421
        assert _status(server.url, f"127.0.0.3:{server.port}") == 421
    finally:
        server.stop()


@pytest.fixture
def live(labelling_run: Path) -> Iterator[LabellingServer]:
    server = LabellingServer(LabellingSettings(labelling_run), "127.0.0.1", 0).start()
    yield server
    server.stop()


def _raw(port: int, request: bytes, then: bytes = b"") -> tuple[bytes, float]:
    """Send ``request`` (headers) and maybe a little body; the reply and how long it took."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        started = time.perf_counter()
        s.sendall(request + then)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply, time.perf_counter() - started


def test_an_oversized_body_is_refused_without_reading_it(
    live: LabellingServer, labelling_run: Path
) -> None:
    """A 300 MB Content-Length is answered 413 at once, with only 10 bytes of it sent."""
    headers = (
        b"POST /api/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Cookie: rlhp_labeller=ann\r\nContent-Length: 300000000\r\n\r\n"
    )
    reply, seconds = _raw(live.port, headers, b'{"pair_id"')
    assert reply.startswith(b"HTTP/1.1 413") and b"at most" in reply
    assert seconds < 5  # it did not wait for 300 MB that never came
    # a chunked body (no Content-Length) is cut off at the limit too
    chunk = b"x" * (MAX_BODY + 1)
    chunked = (
        b"POST /api/name HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(chunk):x}\r\n".encode()
        + chunk
        + b"\r\n0\r\n\r\n"
    )
    reply, _ = _raw(live.port, chunked)
    assert reply.startswith(b"HTTP/1.1 413")
    long_query = b"GET /api/next?exclude=" + b"1," * 2000 + b"1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    reply, _ = _raw(live.port, long_query)
    assert reply.startswith(b"HTTP/1.1 414")
    assert _answers(labelling_run) == []


def test_one_address_cannot_hoard_the_locks(labelling_run: Path, tmp_path: Path) -> None:
    """30 throwaway names from one address: the locks they hold stay capped."""
    run = labelling_run
    client = _client(run, locks_per_address=4)
    got = []
    for i in range(30):
        client.post("/api/name", json={"name": f"throwaway-{i}"})
        reply = client.get("/api/next")
        if reply.status_code == 200 and reply.json()["pair"] is not None:
            got.append(reply.json()["pair"]["id"])
        else:
            assert reply.status_code == 429 and "hold 4 pairs" in reply.json()["error"]
    store = LabelStore.open(run / "labels.sqlite")
    held = store.locks_held([f"throwaway-{i}" for i in range(30)])
    store.close()
    assert len(got) == 2 and held == 2  # 2 + a newcomer's 3 would exceed 4
    # a person on another address is not affected
    other = TestClient(client.app, base_url="http://127.0.0.1", client=("10.0.0.2", 50000))
    other.post("/api/name", json={"name": "real-person"})
    assert other.get("/api/next").json()["pair"]["id"] not in got


@pytest.mark.parametrize(
    ("request_args", "says"),
    [
        ({"json": {"pair_id": 2**63, "choice": "left"}}, "pair_id"),
        ({"content": b'{"pair_id": 1' + b"0" * 400 + b', "choice": "left"}'}, "pair_id"),
        ({"json": {"pair_id": 10**30, "choice": "left"}}, "pair_id"),
    ],
)
def test_huge_pair_ids_are_4xx_json(labelling_run: Path, request_args: dict, says: str) -> None:
    client = _client(labelling_run, "ann")
    reply = client.post("/api/answer", headers={"Content-Type": "application/json"}, **request_args)
    assert reply.status_code == 422 and says in reply.json()["error"]
    assert _answers(labelling_run) == []


def test_a_huge_excluded_id_is_4xx_json(labelling_run: Path) -> None:
    client = _client(labelling_run, "ann")
    reply = client.get("/api/next", params={"exclude": "1" * 30})
    assert reply.status_code == 422 and "exclude" in reply.json()["error"]
    assert client.get("/api/next", params={"exclude": "1,2"}).json()["pair"]["id"] == 3


@pytest.mark.parametrize("cookie", ["a%zzb", "a%ffb", "a%0Ab", "%20", "x" * 50])
def test_a_forged_name_cookie_never_reaches_the_store(labelling_run: Path, cookie: str) -> None:
    client = _client(labelling_run)
    client.cookies.set("rlhp_labeller", cookie)
    for reply in (
        client.post("/api/answer", json={"pair_id": 1, "choice": "left"}),
        client.get("/api/next"),
        client.get("/api/progress"),
    ):
        assert reply.status_code == 401 and "name" in reply.json()["error"]
    assert _answers(labelling_run) == []


def test_a_name_with_a_percent_sign_round_trips(labelling_run: Path) -> None:
    client = _client(labelling_run, "Ann 100% sure")
    pair = client.get("/api/next").json()["pair"]["id"]
    assert client.post("/api/answer", json={"pair_id": pair, "choice": "left"}).json()["stored"]
    assert _answers(labelling_run) == [(pair, "left", "Ann 100% sure")]


def test_an_answer_to_someone_elses_locked_pair_is_409(labelling_run: Path) -> None:
    """Bob is offered pair 1, Carol pair 2; Carol answers pair 1 → 409, nothing stored."""
    bob, carol = _client(labelling_run, "bob"), _client(labelling_run, "carol")
    assert bob.get("/api/next").json()["pair"]["id"] == 1
    assert carol.get("/api/next").json()["pair"]["id"] == 2
    refused = carol.post("/api/answer", json={"pair_id": 1, "choice": "right"})
    assert refused.status_code == 409 and refused.json()["refused"] == "locked"
    assert bob.post("/api/answer", json={"pair_id": 1, "choice": "left"}).json()["stored"]
    dave = _client(labelling_run, "dave")
    late = dave.post("/api/answer", json={"pair_id": 1, "choice": "right"})
    assert late.status_code == 409 and late.json()["refused"] == "answered"
    assert _answers(labelling_run) == [(1, "left", "bob")]


def test_undo_stores_a_correction_and_keeps_the_answer(labelling_run: Path) -> None:
    client = _client(labelling_run, "ann")
    pair = client.get("/api/next").json()["pair"]["id"]
    client.post("/api/answer", json={"pair_id": pair, "choice": "left"})
    fixed = client.post("/api/correct", json={"pair_id": pair, "choice": "right"})
    assert fixed.status_code == 200 and fixed.json()["corrected"] is True
    assert client.post("/api/correct", json={"pair_id": 5, "choice": "right"}).status_code == 404
    assert _answers(labelling_run) == [(pair, "left", "ann")]  # never overwritten
    store = LabelStore.open(labelling_run / "labels.sqlite")
    assert [(p.pair_id, p.target) for p in store.labelled_pairs()] == [(pair, 0.0)]
    store.close()


def test_progress_says_when_the_budget_is_reached(labelling_run: Path) -> None:
    (labelling_run / "config.json").write_text('{"schedule": {"labels": 2}}')
    client = _client(labelling_run, "ann")
    for expected in (False, False, True):
        progress = client.get("/api/progress").json()
        assert progress["finished"] is expected
        pair = client.get("/api/next").json()["pair"]["id"]
        client.post("/api/answer", json={"pair_id": pair, "choice": "left"})


def test_the_trainers_instruction_is_shown_by_rlhp_label(labelling_run: Path) -> None:
    store = LabelStore.open(labelling_run / "labels.sqlite")
    store.set_meta_value("instructions", "Keep the cart left of centre")
    store.close()
    assert _client(labelling_run).get("/api/config").json()["instructions"] == (
        "Keep the cart left of centre"
    )
    given = _client(labelling_run, instructions="Balance it").get("/api/config").json()
    assert given["instructions"] == "Balance it"
