"""Running the labelling app: in the foreground (``rlhp label``) or in a thread (train).

Binds 127.0.0.1 by default; any other address needs an access token.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import socket
import threading
import urllib.parse

import uvicorn

from rlhp.errors import RlhpError
from rlhp.web import DEFAULT_HOST, DEFAULT_PORT
from rlhp.web.app import LabellingSettings, create_app

log = logging.getLogger(__name__)

MIN_TOKEN = 8
"""Characters an access token needs at least (``--token``)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None, port: int = 0) -> None:
    """Refuse, before anything is created, a port out of range, an address this machine
    cannot listen on, and a non-loopback address without a token."""
    if not 0 <= port <= 65535:
        raise RlhpError(f"--port {port} is not a TCP port; pick one from 1 to 65535")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        raise RlhpError(
            f"--host {host} is not an address to listen on ({exc}); "
            "use 127.0.0.1, 0.0.0.0 or one of this machine's addresses"
        ) from exc
    if not is_loopback(host) and not token:
        raise RlhpError(
            f"serving on {host} makes the page reachable from other machines: "
            "pass --token SECRET (every request must then carry it), or use --host 127.0.0.1"
        )
    if token is not None and len(token) < 8:
        raise RlhpError(f"--token must be at least {MIN_TOKEN} characters")


def page_url(host: str, port: int, token: str | None) -> str:
    """The address to open: ``http://127.0.0.2:8765/``, an IPv6 host bracketed
    (``http://[::1]:8765/``), a wildcard address shown as 127.0.0.1, the token
    percent-encoded (``+``, ``#``, ``&`` and ``%`` survive the trip)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    query = f"?token={urllib.parse.quote(token, safe='')}" if token else ""
    return f"http://{shown}:{port}/{query}"


def served_hosts(settings: LabellingSettings, host: str) -> tuple[str, ...]:
    """The host names the server answers to without a token: the loopback names and
    the address it listens on (``--host 127.0.0.2``: the URL it prints must open)."""
    bound = host.strip().strip("[]").lower()
    names = tuple(h.lower() for h in settings.hosts)
    return names if bound in names else (*names, bound)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now (so a busy port is found before anything is made)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        if isinstance(exc, socket.gaierror) or getattr(exc, "errno", None) == 99:
            raise RlhpError(
                f"cannot listen on {host} ({exc}); --host must be an address of this machine"
            ) from exc
        raise RlhpError(f"cannot listen on {host}:{port} ({exc}); pick another --port") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class LabellingServer:
    """uvicorn serving the app; ``start()`` runs it in a daemon thread, ``run()`` here."""

    def __init__(
        self,
        settings: LabellingSettings,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        sock: socket.socket | None = None,
    ) -> None:
        """``sock``: a socket already bound by ``bind`` (else one is bound here)."""
        check_binding(host, settings.token, port)
        settings = dataclasses.replace(settings, hosts=served_hosts(settings, host))
        self.settings = settings
        self.host = host
        self._socket = sock if sock is not None else bind(host, port)
        self.port = int(self._socket.getsockname()[1])
        try:
            app = create_app(settings)
        except BaseException:
            self._socket.close()
            raise
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return page_url(self.host, self.port, self.settings.token)

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        self._server.run(sockets=[self._socket])

    def start(self) -> LabellingServer:
        """Serve from a daemon thread; returns once it accepts connections."""
        self._thread = threading.Thread(target=self.run, name="rlhp-labelling-server", daemon=True)
        self._thread.start()
        ready = threading.Event()
        for _ in range(500):
            if self._server.started:
                ready.set()
                break
            if not self._thread.is_alive():
                break
            ready.wait(0.01)
        if not ready.is_set():
            raise RlhpError(f"the labelling server did not start on {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
        store = getattr(self._server.config.app, "state", None)
        if store is not None and hasattr(store, "store"):
            store.store.close()
