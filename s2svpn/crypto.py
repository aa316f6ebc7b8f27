"""Field encryption: Fernet tokens under the keys in ``settings.FIELD_ENCRYPTION_KEYS``.

The first key encrypts; every key decrypts (``MultiFernet``), so rotation is: put a new key first,
keep the old ones after it, run ``manage.py rotate_keys`` (re-encrypts every secret with the new
key), then drop the old keys.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "A stored secret cannot be decrypted with the configured S2SVPN_FIELD_ENCRYPTION_KEYS "
            "(was the key replaced instead of rotated?)"
        ) from exc


def rotate(token: str) -> str:
    return fernet().rotate(token.encode()).decode()


def keyed_digest(value: str, salt: str) -> str:
    """HMAC-SHA256 of ``value`` under a key derived from the current field-encryption key.

    For remembering *which* secret was last written somewhere (the PSK on the firewall) without
    storing it: the database alone gives nothing to guess against, and it costs microseconds, not
    the 70 ms a slow password hash costs on every push. Rotating the keys changes the digests,
    which only makes the next push re-send the key once.
    """
    key = hashlib.sha256(b"s2svpn keyed digest\0" + settings.FIELD_ENCRYPTION_KEYS[0].encode())
    return hmac.new(key.digest(), salt.encode() + b"\0" + value.encode(), "sha256").hexdigest()
