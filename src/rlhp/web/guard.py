"""What every request passes before the app sees it: its size, its Host, its token.

A pure ASGI middleware, so an oversized body is refused from its ``Content-Length``
before a byte of it is read, and a body without one (chunked) is read only up to the
limit:

* query strings longer than ``MAX_QUERY`` bytes: 414; bodies over ``MAX_BODY``: 413;
* a ``Host`` header naming anything but the names the server serves (the loopback
  names and the address it listens on, e.g. ``127.0.0.2``): 421. Without a
  token the server is on loopback, and this is what stops a web page the person visits
  from reaching it by DNS rebinding (its requests carry the attacker's host name);
* with a token, every request must carry it: ``?token=`` (the page's first load; then
  kept in an HttpOnly cookie), the ``X-Rlhp-Token`` header, or the cookie: 401.

Every refusal is ``{"error": "…"}`` JSON.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

MAX_BODY = 16 * 1024
"""Bytes of a request body: an answer is ~40, a name ~60."""
MAX_QUERY = 2048
"""Bytes of a query string (``/api/next?exclude=…`` needs ~200)."""
TOKEN_COOKIE = "rlhp_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def host_name(header: str) -> str:
    """``Host`` header → host name: ``[::1]:8765`` → ``::1``, ``Example:80`` → ``example``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class RequestGuard:
    """Wraps the app: size limits, the Host check (``hosts`` None: any host), the token."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None, token: str | None) -> None:
        self.app = app
        self.hosts = hosts
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"")
        if len(query) > MAX_QUERY:
            await _refuse(send, 414, f"the query string is over {MAX_QUERY} bytes")
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await _refuse(send, 413, f"a request body is at most {MAX_BODY} bytes")
            return
        if length is None and "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_bounded(receive)
            if body is None:
                await _refuse(send, 413, f"a request body is at most {MAX_BODY} bytes")
                return
            receive = _replay(body)
        if self.hosts is not None and host_name(headers.get("host", "")) not in self.hosts:
            await _refuse(
                send,
                421,
                "this server answers only to "
                + ", ".join(sorted(self.hosts))
                + ": open the address rlhp label printed",
            )
            return
        set_cookie = False
        if self.token is not None:
            given_query = parse_qs(query.decode("latin-1")).get("token", [""])[0]
            given = given_query or headers.get("x-rlhp-token") or _cookie(headers) or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                await _refuse(
                    send,
                    401,
                    "this server needs an access token: open the URL with ?token=… "
                    "as printed by rlhp label",
                )
                return
            set_cookie = bool(given_query)
        await self.app(scope, receive, _with_cookie(send, self.token, set_cookie))


def _cookie(headers: dict[str, str]) -> str | None:
    try:
        morsel = SimpleCookie(headers.get("cookie", "")).get(TOKEN_COOKIE)
    except CookieError:
        return None
    return morsel.value if morsel is not None else None


async def _read_bounded(receive: Receive) -> bytes | None:
    """The whole body, or None as soon as it passes ``MAX_BODY`` (the rest is never read)."""
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            return None
        if not message.get("more_body", False):
            return body


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _with_cookie(send: Send, token: str | None, set_cookie: bool) -> Send:
    if not set_cookie or token is None:
        return send

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            value = f"{TOKEN_COOKIE}={token}; HttpOnly; Path=/; SameSite=Strict"
            message["headers"] = [*message.get("headers", []), (b"set-cookie", value.encode())]
        await send(message)

    return sending


async def _refuse(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
