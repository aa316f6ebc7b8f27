"""Liveness checks for /healthz/: the database, the Celery broker, and a worker's heartbeat."""

from __future__ import annotations


def check_database(connection) -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def check_broker() -> str:
    from s2svpn.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def check_beater(kind: str) -> str:
    """``ok`` when a worker (or beat) beat within ``S2SVPN_WORKER_MISSING`` s, else ``missing``."""
    from django.conf import settings

    from s2svpn.heartbeat import live

    try:
        return "ok" if live(kind, settings.S2SVPN_WORKER_MISSING).exists() else "missing"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def report(connection) -> tuple[dict[str, str], bool]:
    """Every check, and whether the app can do its work (database, broker and a worker)."""
    checks = {"database": check_database(connection), "broker": check_broker()}
    checks["worker"] = check_beater("worker")
    checks["beat"] = check_beater("beat")
    ok = all(checks[name] == "ok" for name in ("database", "broker", "worker"))
    return {"status": "ok" if ok else "error", **checks}, ok
