"""Pre-shared keys for the IKEv2 connection: generate and check.

Azure: printable ASCII without space, hyphen (-) or tilde (~)
(https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq, "What characters can I use
in a pre-shared key"); at most 128 characters.

Minimum 32 characters: with IKEv2 PSK authentication an attacker who makes pfSense talk to it
(pfSense initiates towards the Azure address) receives an AUTH payload derived from the key and
can guess the key offline (RFC 7296 section 2.15 asks for keys as strong as random keys). 32
random characters from the generator's alphabet carry about 190 bits.

The generator draws from letters, digits and ``_ . + = @`` only: these survive shells, URLs,
pfSense's config.xml and copy/paste without quoting. The validator accepts every character Azure
accepts, so keys made elsewhere still work.
"""

from __future__ import annotations

import secrets
import string

from s2svpn.errors import InputError

MIN_LENGTH = 32
MAX_LENGTH = 128
GENERATOR_ALPHABET = string.ascii_letters + string.digits + "_.+=@"
FORBIDDEN = {" ": "a space", "-": "a hyphen (-)", "~": "a tilde (~)"}


class PskError(InputError):
    """A PSK that Azure or this app refuses. The message never contains the key."""

    field = "psk"


def generate_psk(length: int = 40) -> str:
    """A cryptographically random PSK of ``length`` (32-128) characters."""
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise PskError(
            f"A generated key must be {MIN_LENGTH}-{MAX_LENGTH} characters long, not {length}."
        )
    return "".join(secrets.choice(GENERATOR_ALPHABET) for _ in range(length))


def _describe(ch: str) -> str:
    if ch in FORBIDDEN:
        return FORBIDDEN[ch]
    if ch == "\t":
        return "a tab"
    if ch in "\r\n":
        return "a line break"
    if ord(ch) < 32 or ord(ch) == 127:
        return f"a control character (U+{ord(ch):04X})"
    return f"the non-ASCII character {ch!r} (U+{ord(ch):04X})"


def validate_psk(psk: str) -> str:
    """Return ``psk`` unchanged if Azure and pfSense accept it, else raise :class:`PskError`."""
    if not isinstance(psk, str) or not psk:
        raise PskError("The pre-shared key is empty; generate one.")
    if len(psk) < MIN_LENGTH:
        raise PskError(
            f"The pre-shared key has {len(psk)} characters; use at least {MIN_LENGTH} so it "
            "cannot be guessed offline (generate one)."
        )
    if len(psk) > MAX_LENGTH:
        raise PskError(
            f"The pre-shared key has {len(psk)} characters; Azure accepts at most {MAX_LENGTH}."
        )
    for pos, ch in enumerate(psk, start=1):
        if ch in FORBIDDEN or not (33 <= ord(ch) <= 126):
            raise PskError(
                f"The pre-shared key contains {_describe(ch)} at position {pos}; Azure allows "
                "only printable ASCII without spaces, hyphens or tildes. Remove it or generate "
                "a new key."
            )
    return psk
