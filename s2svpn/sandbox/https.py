"""The one HTTP(S) listener both stand-ins serve through (ARM and pfSense).

A stand-in is a *responder*: ``(method, target, headers, body) -> Reply`` (``headers`` with
lower-case names, ``target`` the request target with its query string). Returning ``None`` drops
the connection without an answer (the ARM sandbox's injected "connection reset"). The listener owns
the sockets: a thread per connection, the TLS handshake done in that thread (so a slow or broken
client never stalls ``accept``), keep-alive, and a ``stop()`` that also closes idle keep-alive
connections so a stopped stand-in is really gone.

Test infrastructure only (stdlib).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[str, str, dict[str, str], bytes], "Reply | None"]


class _Server(ThreadingHTTPServer):
    """Threading HTTP server that does the TLS handshake in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True
    responder: Responder
    ssl_context: ssl.SSLContext | None
    # How long a connection may sit idle (and a handshake take) before the stand-in closes it:
    # a server's keep-alive timeout. Read when a connection is accepted; benchmarks that compress
    # time set it (e.g. pfSense's nginx keeps 70 s: system.inc, system_generate_nginx_config).
    idle_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(self.idle_timeout)
            conn = (
                self.ssl_context.wrap_socket(request, server_side=True)
                if self.ssl_context is not None
                else request
            )
        except (OSError, ssl.SSLError):
            return
        with self._open_lock:
            self._open.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except OSError:
            pass
        finally:
            with self._open_lock:
                self._open.discard(conn)
            if conn is not request:
                with contextlib.suppress(OSError):
                    conn.close()

    def close_all(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the stand-ins record calls
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.responder(self.command, self.path, headers, body)
        if reply is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if reply.body:
            self.wfile.write(reply.body)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve


class Listener:
    """Serve ``responder`` on ``host:port`` (0 = any free port), over TLS when given a certificate."""

    def __init__(
        self,
        responder: Responder,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        server_version: str = "",
    ) -> None:
        self.responder, self.name, self.host, self.port = responder, name, host, port
        self.cert_file, self.key_file = cert_file, key_file
        self.server_version = server_version
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def set_idle_timeout(self, seconds: float) -> None:
        """The keep-alive timeout for connections accepted from now on."""
        if self._server is not None:
            self._server.idle_timeout = seconds

    def start(self) -> int:
        """Listen and serve in a daemon thread; returns the bound port."""
        context = None
        if self.cert_file is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
        handler = _Handler
        if self.server_version:
            handler = type("Handler", (_Handler,), {"server_version": self.server_version})
        server = _Server((self.host, self.port), handler)
        server.responder = self.responder
        server.ssl_context = context
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.name,
            daemon=True,
        )
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_all()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
