"""Running the labelling app: in the foreground (``rlhp label``) or in a thread (train).

Binds 127.0.0.1 by default; any other address needs an access token.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading

import uvicorn

from rlhp.errors import RlhpError
from rlhp.web import DEFAULT_HOST, DEFAULT_PORT
from rlhp.web.app import LabellingSettings, create_app

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise RlhpError(
            f"serving on {host} makes the page reachable from other machines: "
            "pass --token SECRET (every request must then carry it), or use --host 127.0.0.1"
        )
    if token is not None and len(token) < 8:
        raise RlhpError("--token must be at least 8 characters")


def page_url(host: str, port: int, token: str | None) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RlhpError(f"cannot listen on {host}:{port} ({exc}); pick another --port") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class LabellingServer:
    """uvicorn serving the app; ``start()`` runs it in a daemon thread, ``run()`` here."""

    def __init__(
        self, settings: LabellingSettings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
    ) -> None:
        check_binding(host, settings.token)
        self.settings = settings
        self.host = host
        self._socket = _bind(host, port)
        self.port = int(self._socket.getsockname()[1])
        app = create_app(settings)
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
