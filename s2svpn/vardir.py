"""The state directory (``S2SVPN_VAR_DIR``, default ``./var``) and the keys generated into it.

Settings only *read* from here; the entry points (``manage.py``, ``wsgi``/``asgi``, the Celery
app) call :func:`prepare` before Django loads its settings, so a fresh clone's first start
creates the folders and generates ``SECRET_KEY`` and the field-encryption key (mode 0600), and
importing the settings never writes a file. Pure: no Django.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY_FILE = "secret_key"
FIELD_KEY_FILE = "field_encryption_key"


def var_dir() -> Path:
    return Path(os.environ.get("S2SVPN_VAR_DIR") or BASE_DIR / "var")


def read_generated(filename: str) -> str:
    """The generated secret in ``<var>/<filename>``, or "" when it was not generated yet."""
    path = var_dir() / filename
    return path.read_text().strip() if path.is_file() else ""


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


GENERATED = {
    # file name: (the variables that make it unnecessary, how to make one)
    SECRET_KEY_FILE: (("SECRET_KEY", "SECRET_KEY_FILE"), lambda: secrets.token_urlsafe(50)),
    FIELD_KEY_FILE: (("S2SVPN_FIELD_ENCRYPTION_KEYS",), _fernet_key),
}


def prepare() -> Path:
    """Create the state directory, the embedded Redis's folder (its unix socket) and the static
    root, and generate each key the environment does not give (once; several processes may race
    here)."""
    root = var_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    (root / "redis").mkdir(exist_ok=True, mode=0o700)
    (root / "static").mkdir(exist_ok=True)
    for filename, (variables, make) in GENERATED.items():
        if any(os.environ.get(name) for name in variables):
            continue
        try:
            fd = os.open(root / filename, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
    return root
