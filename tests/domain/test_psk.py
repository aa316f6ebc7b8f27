"""Pre-shared keys: generation and Azure's character rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s2svpn.psk import (
    GENERATOR_ALPHABET,
    MAX_LENGTH,
    MIN_LENGTH,
    PskError,
    generate_psk,
    validate_psk,
)

GOOD = "A" * 31 + "b"


def refusal(psk) -> str:
    with pytest.raises(PskError) as info:
        validate_psk(psk)
    return str(info.value)


def test_a_generated_key_has_40_safe_characters_by_default():
    psk = generate_psk()
    assert len(psk) == 40
    assert set(psk) <= set(GENERATOR_ALPHABET)
    assert validate_psk(psk) == psk


def test_two_generated_keys_differ():
    assert generate_psk() != generate_psk()


def test_the_generator_alphabet_has_no_character_azure_or_a_shell_dislikes():
    assert not set(GENERATOR_ALPHABET) & set(" -~'\"`$\\!&;|<>*?(){}[]#%")


@pytest.mark.parametrize("length", [31, 129])
def test_it_refuses_to_generate_keys_outside_32_to_128(length):
    with pytest.raises(PskError, match=f"must be 32-128 characters long, not {length}"):
        generate_psk(length)


@pytest.mark.parametrize(
    ("psk", "message"),
    [
        ("", "The pre-shared key is empty; generate one."),
        (
            "short",
            "The pre-shared key has 5 characters; use at least 32 so it cannot be guessed offline (generate one).",
        ),
        ("x" * 129, "The pre-shared key has 129 characters; Azure accepts at most 128."),
        (
            GOOD[:10] + "-" + GOOD[11:],
            "The pre-shared key contains a hyphen (-) at position 11; Azure allows only printable "
            "ASCII without spaces, hyphens or tildes. Remove it or generate a new key.",
        ),
    ],
)
def test_it_refuses_bad_keys_with_a_plain_message(psk, message):
    assert refusal(psk) == message


@pytest.mark.parametrize(
    ("char", "words"),
    [
        (" ", "a space"),
        ("~", "a tilde (~)"),
        ("\t", "a tab"),
        ("\n", "a line break"),
        ("\x7f", "a control character (U+007F)"),
        ("é", "the non-ASCII character 'é' (U+00E9)"),
    ],
)
def test_it_names_the_bad_character(char, words):
    assert refusal(char + GOOD).startswith(f"The pre-shared key contains {words} at position 1;")


def test_messages_never_contain_the_key():
    secret = "Sup3rSecretKeyMaterial_ABCDEFGHIJKL-"
    assert secret[:20] not in refusal(secret)
    assert secret not in refusal(secret[:10])


def test_it_accepts_every_printable_character_azure_allows():
    allowed = "".join(chr(c) for c in range(33, 127) if chr(c) not in "-~")
    assert validate_psk(allowed) == allowed
    assert len(validate_psk("x" * MAX_LENGTH)) == MAX_LENGTH


@given(st.integers(min_value=MIN_LENGTH, max_value=MAX_LENGTH))
def test_generated_keys_always_validate(length):
    psk = generate_psk(length)
    assert len(psk) == length and validate_psk(psk) == psk


@given(st.text(min_size=MIN_LENGTH, max_size=MAX_LENGTH))
def test_a_key_validates_exactly_when_every_character_is_allowed(psk):
    ok = all(33 <= ord(c) <= 126 and c not in "-~" for c in psk)
    if ok:
        assert validate_psk(psk) == psk
    else:
        with pytest.raises(PskError):
            validate_psk(psk)
