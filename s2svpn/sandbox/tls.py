"""A throw-away certificate authority for the sandboxes' HTTPS listeners.

The real SDKs (azure-core for ARM, httpx for pfSense) verify TLS; the sandboxes give them a CA
file to trust (``connection_verify=<ca file>`` / ``verify=<ca file>``) instead of turning checks
off. The CA and the server certificate are written once under the sandbox directory and reused,
so a restarted sandbox presents the same CA and clients configured earlier keep working.

Built on trustme (https://trustme.readthedocs.io/); test infrastructure only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import trustme

DEFAULT_HOSTNAMES = ("127.0.0.1", "localhost", "::1")
_FILES = ("ca.pem", "server.pem", "server-key.pem")


def _write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_ca(
    directory: Path, hostnames: tuple[str, ...] = DEFAULT_HOSTNAMES
) -> tuple[Path, Path, Path]:
    """Return ``(ca_pem_path, server_cert_pem_path, server_key_pem_path)`` under ``directory/tls``.

    Creates the CA and a server certificate for ``hostnames`` the first time; later calls (e.g.
    after a sandbox restart) return the files already there.
    """
    tls_dir = Path(directory) / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = (tls_dir / name for name in _FILES)
    if not all(p.exists() for p in (ca_path, cert_path, key_path)):
        ca = trustme.CA(organization_name="s2svpn sandbox CA")
        server = ca.issue_cert(*hostnames)
        _write_atomically(ca_path, ca.cert_pem.bytes(), 0o644)
        _write_atomically(
            cert_path, b"".join(blob.bytes() for blob in server.cert_chain_pems), 0o644
        )
        _write_atomically(key_path, server.private_key_pem.bytes())
    return ca_path, cert_path, key_path
