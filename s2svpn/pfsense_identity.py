"""The IKE identities pfSense puts into swanctl.conf, as its own code derives them.

``ipsec_find_id()`` and ``ipsec_fixup_id()`` in pfSense's ``src/etc/inc/ipsec.inc`` (RELENG_2_7_2):
"My IP address" (``myaddress``) is the phase 1 interface's own address (``ipsec_get_phase1_src()``:
behind a NAT router the private WAN address, never the public one); ``dyn_dns`` is sent as the FQDN
identity ``dns:<name>`` with nothing resolved; ``user_fqdn`` becomes ``userfqdn:``, ``keyid tag``
``keyid:`` (quoted), ``fqdn`` ``fqdn:``; "Peer IP address" (``peeraddress``) is the remote gateway as
resolved for the tunnel. ``ipsec_setup_secrets()`` writes the PSK secret of every non-mobile
phase 1 with ``id-0 = %any`` and the peer's identity as ``id-1``.

Used by the lab's renderer and by the pfSense sandbox, so both send what pfSense would. Pure.
"""

from __future__ import annotations

__all__ = ["find_id", "fixup_id", "identity", "secret_ids"]

_PREFIXED = {"fqdn": "fqdn", "dns": "dns", "userfqdn": "userfqdn", "keyid": "keyid"}
_QUOTED = {"keyid", "asn1dn", "auto"}


def find_id(kind: str, data: str, address: str) -> tuple[str, str]:
    """(id type, data) for a myid/peerid type; ``address`` is the interface or gateway address."""
    return {
        "myaddress": ("address", address),
        "peeraddress": ("address", address),
        "dyn_dns": ("dns", data),
        "user_fqdn": ("userfqdn", data),
        "keyid tag": ("keyid", data),
        "any": ("any", "%any"),
    }.get(kind, (kind, data))


def fixup_id(kind: str, data: str) -> str:
    """The identity string: ``<type>:<data>`` for typed ids, the bare data for addresses."""
    if kind == "any":
        text = "%any"
    elif kind in _PREFIXED:
        text = f"{_PREFIXED[kind]}:{data}"
    else:
        text = data
    return f'"{text}"' if kind in _QUOTED else text


def identity(kind: str | None, data: str | None, address: str) -> str:
    """What pfSense renders as ``local { id = … }`` (or ``remote``) for one phase 1 side."""
    return fixup_id(*find_id(kind or "myaddress", str(data or ""), address))


def secret_ids(remote_id: str) -> tuple[str, str]:
    """(id-0, id-1) of the phase 1's PSK secret (``ipsec_setup_secrets()``, non-mobile)."""
    return "%any", remote_id
