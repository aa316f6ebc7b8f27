"""The address space s2svpn proposes for a VNet it creates (or adds to a full one) overlaps no
home LAN and no VNet it knows; a typed one that does is refused with a free range to use."""

from __future__ import annotations

import pytest

from s2svpn.netplan import AddressError, check_space, propose_space


def test_it_proposes_the_first_free_10_x_16_next_to_the_home_lans():
    assert propose_space(["10.0.0.0/24", "192.168.2.0/24"]) == "10.1.0.0/16"


def test_it_skips_every_vnet_and_lan_it_knows():
    taken = ["10.0.0.0/24", "10.1.0.0/16", "10.2.128.0/17", "172.16.0.0/16"]
    assert propose_space(taken) == "10.3.0.0/16"


def test_it_moves_on_to_172_16_when_10_is_full_and_says_none_when_all_is_taken():
    assert propose_space(["10.0.0.0/8"]) == "172.16.0.0/16"
    assert propose_space(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]) is None


def test_a_small_space_for_a_gateway_subnet_is_a_free_27():
    assert propose_space(["10.0.0.0/9", "10.128.0.0/10", "10.192.0.0/24"], 27) == "10.192.1.0/27"


def test_a_typed_space_is_normalised_and_accepted_when_free():
    assert check_space(["10.1.0.0/16"], ["10.0.0.0/24"]) == ["10.1.0.0/16"]


@pytest.mark.parametrize(
    ("prefixes", "words"),
    [
        (["10.0.0.0/16"], "overlaps 10.0.0.0/24"),
        (["10.1.0.1/16"], "host bits"),
        (["10.1.0.0/30"], "/8 to /29"),
        (["banana"], "not an address prefix"),
        (["10.1.0.0/16", "10.1.1.0/24"], "overlaps another prefix"),
        ([], "Give the new VNet an address space"),
    ],
)
def test_a_space_that_cannot_work_is_refused_with_what_to_do(prefixes, words):
    with pytest.raises(AddressError) as err:
        check_space(prefixes, ["10.0.0.0/24"])
    assert words in err.value.message and err.value.field == "vnet_prefixes"


def test_the_refusal_of_an_overlap_names_a_free_range():
    with pytest.raises(AddressError) as err:
        check_space(["10.0.0.0/16"], ["10.0.0.0/24"])
    assert "such as 10.1.0.0/16" in err.value.message


def test_a_full_vnet_grows_right_after_its_own_space_when_that_is_free():
    assert propose_space(["10.0.0.0/24", "10.60.0.0/24"], 27, near=["10.60.0.0/24"]) == (
        "10.60.1.0/27"
    )
    taken = ["10.0.0.0/24", "10.60.0.0/24", "10.60.1.0/24"]
    assert propose_space(taken, 27, near=["10.60.0.0/24"]) == "10.0.1.0/27"
