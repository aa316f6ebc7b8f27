"""Shared fixtures: a small named cast used across the suite."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ARTIFACTS = REPO / "artifacts"


def pytest_configure(config):
    """Refuse, in this process, any Python open() of the SQLite test database or its -wal,
    -shm or -journal file.

    POSIX advisory locks belong to a process and a file: close() of ANY descriptor of the file
    drops every lock the process holds on it (fcntl(2); sqlite's src/os_unix.c, "Posix Advisory
    Locking"; https://www.sqlite.org/howtocorrupt.html, 2.2). SQLite counts its locks per process
    and does not take them again while it believes it holds them, so one such open()/close()
    while a connection of this process is open leaves the test process without locks: a Celery
    worker closing its last connection then takes the EXCLUSIVE lock, checkpoints and unlinks the
    -wal and -shm under this process, and every later connection here fails with 'disk I/O
    error' (SQLITE_IOERR_SHORT_READ). A test that must read the file's bytes reads them in a
    child process (tests/foundation/test_secrets.py, database_file_bytes)."""
    import sys

    from django.conf import settings

    database = settings.DATABASES["default"]
    name = database.get("TEST", {}).get("NAME")
    if not database["ENGINE"].endswith("sqlite3") or not name:
        return
    guarded = {os.path.abspath(f"{name}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")}

    def refuse(event: str, args: tuple) -> None:
        if event != "open" or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        if os.path.abspath(os.fsdecode(args[0])) in guarded:
            raise RuntimeError(
                f"the test process opened {os.fsdecode(args[0])} itself: closing that descriptor "
                "drops every SQLite lock of this process on the database (POSIX locks are per "
                "process). Read the file in a child process instead (see "
                "tests/foundation/test_secrets.py, database_file_bytes)."
            )

    sys.addaudithook(refuse)


@pytest.fixture
def admin_user(db, django_user_model):
    return django_user_model.objects.create_superuser("alice", "alice@example.net", "s3cret-pass!")


@pytest.fixture
def alice(client, admin_user):
    """A logged-in admin's test client."""
    client.force_login(admin_user)
    return client


def user_with_role(username: str, role: str | None):
    """A plain user (no superuser flag) holding one role of s2svpn.roles (or none)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(
        username, f"{username}@example.net", "pw-" + username
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
        user.refresh_from_db()
    return user


@pytest.fixture
def viewer(db):
    return user_with_role("victor", "Viewer")


@pytest.fixture
def operator(db):
    return user_with_role("olga", "Operator")


@pytest.fixture
def administrator(db):
    return user_with_role("ada", "Administrator")


# ------------------------------------------------------------------ a real Celery worker


def _process_tree(pid: int) -> list:
    """The process ``pid``, its descendants and every other member of its process group (a prefork
    child whose parent was killed is re-parented to init, but stays in the group)."""
    import psutil

    found: dict[int, psutil.Process] = {}
    with contextlib.suppress(psutil.NoSuchProcess):
        parent = psutil.Process(pid)
        found[pid] = parent
        for child in parent.children(recursive=True):
            found[child.pid] = child
    for other in psutil.process_iter():
        with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError, PermissionError):
            if other.pid not in found and os.getpgid(other.pid) == pid:
                found[other.pid] = other
    return list(found.values())


class CeleryProcesses:
    """A real ``celery worker`` (and ``celery beat``) subprocess sharing the test database.

    The broker is a real Redis (a database number of its own, flushed first). ``kill()`` sends
    SIGKILL to the worker's process group — the crash the run engine must survive.
    """

    def __init__(self, env: dict[str, str], workdir: Path):
        self.env = env
        self.workdir = workdir
        self.worker = None
        self.beat = None
        self.grace = 10.0  # seconds a process has to end on SIGTERM before it is killed

    def _spawn(self, name: str, args: list[str]):
        import subprocess
        import sys

        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "s2svpn", *args],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> None:
        if self.worker is None or self.worker.poll() is not None:
            self.worker = self._spawn(
                "worker",
                [
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    "2",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                    "-n",
                    f"test{os.getpid()}@%h",
                ],
            )
        if self.beat is None or self.beat.poll() is not None:
            self.beat = self._spawn(
                "beat", ["beat", "--loglevel", "INFO", "-s", str(self.workdir / "beat-schedule")]
            )

    def kill(self) -> None:
        """SIGKILL the worker and all its children (no chance to ack or clean up)."""
        import signal

        if self.worker and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait()

    def stop(self) -> None:
        """SIGTERM each process group, wait, then SIGKILL whatever is left of it: the process,
        its prefork children (found through psutil, also once the parent is gone and they are
        orphans of init) and anything else in its group. No celery process outlives the test."""
        import signal

        import psutil

        for proc in (self.worker, self.beat):
            if proc is None:
                continue
            tree = _process_tree(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            _gone, alive = psutil.wait_procs(tree, timeout=self.grace)
            for leftover in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    leftover.kill()
            psutil.wait_procs(alive, timeout=5)
            proc.wait()  # reap the Popen (its exit status)

    def log(self, name: str = "worker") -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="session", autouse=True)
def embedded_redis(tmp_path_factory):
    """The embedded broker of ``make run`` (s2svpn/broker.py), one per test session: Celery's
    broker and the cache of the test process, as under ``manage.py up``."""
    from django.conf import settings
    from django.test.utils import override_settings

    from s2svpn.broker import EmbeddedRedis
    from s2svpn.celery import app

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    caches = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    old = app.conf.broker_url
    with override_settings(CACHES=caches, CELERY_BROKER_URL=server.broker_url):
        app.conf.broker_url = server.broker_url
        _reset_broker_pools(app)
        try:
            yield server
        finally:
            app.conf.broker_url = old
            _reset_broker_pools(app)
    server.stop()


def _database_url(settings_dict: dict) -> str:
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


def _reset_broker_pools(app) -> None:
    """Drop cached broker connections so the next publish uses the current broker_url."""
    from kombu import pools

    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu keeps producer pools per connection in a global registry


@pytest.fixture
def celery_env() -> dict[str, str]:
    """Extra environment for ``celery_worker``'s processes (parametrize it to override)."""
    return {}


@pytest.fixture
def celery_redis_url() -> str:
    """The Redis ``celery_worker`` runs on (override it to give a test a Redis of its own)."""
    return os.environ.get("S2SVPN_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def celery_worker(transactional_db, tmp_path, settings, celery_env, celery_redis_url):
    """A real worker + beat on the real Redis of this machine, sharing the test database."""
    import uuid

    import redis
    from django.db import connection

    from s2svpn.celery import app

    redis_url = celery_redis_url
    # A key prefix of this test alone: concurrent test sessions never see each other's tasks.
    prefix = f"s2svpn-test-{uuid.uuid4().hex[:12]}:"
    redis.Redis.from_url(redis_url).ping()
    old = (app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.broker_url = redis_url.replace("unix://", "redis+socket://", 1)  # as settings do
    app.conf.broker_transport_options = {"visibility_timeout": 3600, "global_keyprefix": prefix}
    _reset_broker_pools(app)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "REDIS_URL": redis_url,
        "S2SVPN_BROKER_PREFIX": prefix,
        "S2SVPN_VAR_DIR": str(settings.VAR_DIR),
        "S2SVPN_STEP_LEASE": "3",
        "S2SVPN_RESUME_INTERVAL": "1",
        "S2SVPN_STEP_BACKOFF": "0.2",
        "S2SVPN_POLL_INTERVAL": os.environ.get("S2SVPN_TEST_POLL_INTERVAL", "3600"),
        **celery_env,
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    procs = CeleryProcesses(env, tmp_path)
    procs.start()
    try:
        yield procs
    finally:
        procs.stop()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        app.conf.broker_url, app.conf.broker_transport_options = old
        _reset_broker_pools(app)


# ------------------------------------------------------------------ the sandboxes


@pytest.fixture(scope="session")
def sandboxes(tmp_path_factory):
    """Both sandboxes + the World on loopback (fast profile), for the whole test session."""
    from django.conf import settings

    from s2svpn.sandbox.runtime import start_sandboxes

    boxes = start_sandboxes(tmp_path_factory.mktemp("sandboxes"), profile="fast")
    # Like `manage.py sandbox`: the wizard's "Use the sandbox" and the run's timing hints read it.
    boxes.write_connection_file(settings.S2SVPN_SANDBOX_DIR / "connection.json")
    yield boxes
    boxes.stop()


def make_sandbox_site(boxes, slug: str = "home", **intent_overrides):
    """A Site pointed at the sandboxes with the canonical intent (plus overrides)."""
    from pathlib import Path as _Path

    from s2svpn.intent import CANONICAL
    from s2svpn.psk import generate_psk
    from wizard.models import AzureAuth, Site

    info = boxes.connection_info()
    timing = info["timing"]
    declared = {"gateway": timing["gateway_seconds"], "other": timing["other_seconds"]}
    intent = {
        **CANONICAL.to_dict(),
        **intent_overrides,
        "slug": slug,
        "_wizard": {"expected": declared},  # as "Use the sandbox" keeps them
    }
    return Site.objects.create(
        name=f"Home ({slug})",
        slug=slug,
        sandbox=True,
        azure_auth=AzureAuth.SANDBOX,
        subscription_id=info["subscription_id"],
        resource_group=info["resource_group"],
        location=info["location"],
        vnet_name=info["vnet_name"],
        arm_base_url=info["arm_base_url"],
        arm_ca_bundle=_Path(info["ca_file"]).read_text(),
        pfsense_url=info["pfsense_url"],
        pfsense_api_key=info["pfsense_api_key"],
        pfsense_ca_bundle=_Path(info["pfsense_ca_file"]).read_text(),
        dns_servers=info["dns_server"],
        psk=generate_psk(),
        intent=intent,
    )


@pytest.fixture
def sandbox_site(db, sandboxes):
    """The canonical site, pointed at the sandboxes, not yet provisioned."""
    return make_sandbox_site(sandboxes)


@pytest.fixture
def fresh_sandboxes(tmp_path, settings):
    """Sandboxes of this test alone (fast profile): nothing shared with other tests."""
    from s2svpn.sandbox.runtime import start_sandboxes

    boxes = start_sandboxes(tmp_path / "sandboxes", profile="fast")
    boxes.write_connection_file(settings.S2SVPN_SANDBOX_DIR / "connection.json")
    yield boxes
    boxes.stop()


def slow_down(boxes, seconds: float) -> None:
    """Make every answer of both sandboxes take ``seconds`` longer (a step stays in flight)."""
    import time as _time

    for box in (boxes.arm, boxes.pfsense):
        original = type(box).handle

        def handle(*args, _original=original, _box=box, **kwargs):
            _time.sleep(seconds)
            return _original(_box, *args, **kwargs)

        box.handle = handle


def inventory(boxes, slug: str = "home") -> dict[str, int]:
    """How many of each object s2svpn creates exist, on both ends (for "exactly one" checks)."""
    from s2svpn.intent import CANONICAL

    intent = CANONICAL.__class__(**{**CANONICAL.__dict__, "slug": slug})
    arm = boxes.arm.resources
    config = boxes.pfsense.snapshot()
    frr = config.get("installedpackages", {})
    neighbors = (frr.get("frrbgpneighbors") or {}).get("config") or []
    return {
        "gateway_subnet": sum(1 for r in arm("subnets") if r["name"] == "GatewaySubnet"),
        "public_ip": sum(
            1 for r in arm("publicIPAddresses") if r["name"] in intent.public_ip_names
        ),
        "gateway": sum(
            1 for r in arm("virtualNetworkGateways") if r["name"] == intent.gateway_name
        ),
        "local_gateway": sum(
            1 for r in arm("localNetworkGateways") if r["name"] == intent.lng_name
        ),
        "connection": sum(1 for r in arm("connections") if r["name"] == intent.connection_name),
        "phase1": sum(1 for p in config["ipsec"]["phase1"] if p.get("descr") == intent.descr),
        "phase2": sum(1 for p in config["ipsec"]["phase2"] if p.get("descr") == intent.descr),
        "vti_interface": sum(
            1 for i in config["interfaces"].values() if str(i.get("if", "")).startswith("ipsec")
        ),
        "rule": sum(
            1 for r in config["filter"]["rule"] if str(r.get("descr", "")).startswith(intent.descr)
        ),
        "bgp_neighbor": sum(1 for n in neighbors if n.get("peer") == "172.16.19.254"),
    }
