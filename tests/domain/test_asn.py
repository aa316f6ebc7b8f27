"""ASN rules: 16/32-bit, reserved numbers refused with their reason, 65515 only for Azure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s2svpn.asn import (
    RESERVED,
    AsnError,
    is_private,
    reserved_reason,
    validate_asn,
    validate_asn_pair,
)


def refusal(fn, *args) -> AsnError:
    with pytest.raises(AsnError) as info:
        fn(*args)
    return info.value


def test_the_canonical_asns_are_valid():
    assert validate_asn(65010, "onprem") == 65010
    assert validate_asn(65515, "azure") == 65515
    validate_asn_pair(65010, 65515)


def test_it_refuses_azures_default_asn_on_prem():
    err = refusal(validate_asn, 65515, "onprem")
    assert err.field == "onprem_asn"
    assert str(err) == (
        "The on-prem (pfSense) ASN 65515 is Azure's own default ASN; only the Azure gateway may "
        "use it, so Azure refuses it. Pick a private ASN (64512-65514, 65521-65534 or "
        "4200000000-4294967294) such as 65010."
    )


@pytest.mark.parametrize(
    ("asn", "reason"),
    [
        (8074, "is a public ASN Azure uses itself"),
        (8075, "is a public ASN Azure uses itself"),
        (12076, "is a public ASN Azure uses itself (ExpressRoute)"),
        (65517, "is reserved by Azure for its own routing"),
        (65520, "is reserved by Azure for its own routing"),
        (23456, "is AS_TRANS, the 16-bit stand-in for 32-bit ASNs (RFC 6793)"),
        (64496, "is reserved for documentation (RFC 5398)"),
        (64511, "is reserved for documentation (RFC 5398)"),
        (65535, "is reserved by IANA (RFC 7300)"),
        (65551, "is reserved for documentation (RFC 5398)"),
        (429496729, "is listed as reserved in the Azure BGP FAQ"),
    ],
)
@pytest.mark.parametrize("side", ["azure", "onprem"])
def test_it_refuses_a_reserved_asn_with_its_reason(asn, reason, side):
    err = refusal(validate_asn, asn, side)
    who = "Azure gateway" if side == "azure" else "on-prem (pfSense)"
    assert str(err).startswith(f"The {who} ASN {asn} {reason}, so Azure refuses it.")
    assert err.field == f"{side}_asn"


def test_it_refuses_the_last_asn_with_its_reason():
    assert str(refusal(validate_asn, 4294967295, "onprem")).startswith(
        "The on-prem (pfSense) ASN 4294967295 is reserved by IANA as the last ASN (RFC 7300), "
        "so Azure refuses it."
    )


@pytest.mark.parametrize("asn", [0, -1, 4294967296])
def test_it_refuses_numbers_outside_the_asn_space(asn):
    assert "is outside 1-4294967294" in str(refusal(validate_asn, asn, "azure"))


@pytest.mark.parametrize("asn", ["65010", 65010.0, True, None])
def test_it_refuses_asns_that_are_not_whole_numbers(asn):
    assert "is not a whole number" in str(refusal(validate_asn, asn, "onprem"))


def test_it_accepts_the_neighbours_of_reserved_ranges():
    for asn in (65516, 65521, 64512, 65514, 65534, 64495, 65552, 1, 4200000000, 4294967294):
        assert validate_asn(asn, "onprem") == asn


def test_it_refuses_the_same_asn_on_both_ends():
    err = refusal(validate_asn_pair, 65020, 65020)
    assert err.field == "onprem_asn"
    assert str(err) == (
        "pfSense and Azure both use ASN 65020; the session is eBGP, so the home end needs its own "
        "ASN. Use e.g. 65010 on pfSense."
    )
    assert "Use e.g. 65020 on pfSense" in str(refusal(validate_asn_pair, 65010, 65010))


def test_a_pair_also_checks_each_side():
    assert refusal(validate_asn_pair, 65515, 64600).field == "onprem_asn"
    assert refusal(validate_asn_pair, 65010, 8075).field == "azure_asn"


def test_private_asns_are_recognised():
    assert is_private(65010) and is_private(4200000000) and is_private(65534)
    assert not is_private(65535) and not is_private(8075) and not is_private(64511)


@given(st.integers(min_value=1, max_value=4294967294))
def test_every_asn_is_either_accepted_or_refused_with_its_listed_reason(asn):
    reason = reserved_reason(asn)
    if reason is None:
        assert validate_asn(asn, "onprem") == asn
    else:
        assert reason in str(refusal(validate_asn, asn, "onprem"))


def test_every_reserved_range_has_a_reason():
    assert all(first <= last and reason for first, last, reason in RESERVED)
