"""IPsec/IKE policy: Azure rules, the Azure <-> pfSense <-> strongSwan mapping, the negotiation checker."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s2svpn.intent import CANONICAL, IpsecPolicy
from s2svpn.ipsec import (
    DH_GROUPS,
    IKE_ENCRYPTIONS,
    IKE_INTEGRITIES,
    IPSEC_ENCRYPTIONS,
    PFS_GROUPS,
    PRESETS,
    PfSenseCrypto,
    PolicyError,
    azure_default_offers,
    check_negotiation,
    from_pfsense,
    pfsense_to_strongswan,
    to_pfsense,
    to_strongswan,
    validate_dpd_timeout,
    validate_policy,
)

POLICY = CANONICAL.policy
PFSENSE = PfSenseCrypto(
    ike_proposals=(("aes", 256, "sha256", 14),),
    esp_encryptions=(("aes256gcm", 128),),
    esp_hashes=("hmac_sha256",),
    pfs_group=14,
)


def policy(**changes) -> IpsecPolicy:
    return dataclasses.replace(POLICY, **changes)


def pfsense(**changes) -> PfSenseCrypto:
    return dataclasses.replace(PFSENSE, **changes)


# ---- Azure rules ----------------------------------------------------------------------------


def test_the_canonical_policy_is_valid():
    assert validate_policy(POLICY) == []


def test_every_preset_is_valid_and_exactly_one_is_recommended():
    assert all(validate_policy(p.policy) == [] for p in PRESETS.values())
    assert [p.key for p in PRESETS.values() if p.recommended] == ["gcm-modp2048"]
    assert PRESETS["gcm-modp2048"].policy == POLICY


def test_every_preset_negotiates_with_its_own_pfsense_mirror():
    for preset in PRESETS.values():
        assert check_negotiation(preset.policy, to_pfsense(preset.policy)).ok, preset.key


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"ipsec_integrity": "SHA256"},
            "IPsec encryption GCMAES256 with integrity SHA256: Azure requires a GCM algorithm on "
            "both or neither, with the same key length; set IPsec integrity to GCMAES256.",
        ),
        (
            {"ipsec_encryption": "AES256", "ipsec_integrity": "GCMAES256"},
            "IPsec encryption AES256 with integrity GCMAES256: Azure requires a GCM algorithm on "
            "both or neither, with the same key length; set IPsec encryption to GCMAES256 or "
            "integrity to SHA256.",
        ),
        (
            {"ipsec_encryption": "GCMAES128", "ipsec_integrity": "GCMAES256"},
            "IPsec encryption GCMAES128 with integrity GCMAES256: Azure requires a GCM algorithm on "
            "both or neither, with the same key length; set IPsec integrity to GCMAES128.",
        ),
        (
            {"ike_encryption": "DES3"},
            "IKE encryption DES3 is not available on pfSense (DES, 3DES and MD5 were removed as "
            "insecure); use GCMAES256.",
        ),
        (
            {"ike_integrity": "MD5"},
            "IKE integrity MD5 is not available on pfSense (DES, 3DES and MD5 were removed as "
            "insecure); use SHA384.",
        ),
        (
            {"ipsec_encryption": "None", "ipsec_integrity": "SHA256"},
            "IPsec encryption None would send traffic unencrypted and pfSense has no null cipher; "
            "use GCMAES256.",
        ),
        (
            {"dh_group": "None"},
            "DH group None cannot work: IKEv2 always performs a Diffie-Hellman exchange and "
            "pfSense has no 'none' for phase 1; use DHGroup14.",
        ),
        (
            {"pfs_group": "PFS14"},
            "PFS group PFS14 is not in Azure's documented list; use PFS2048, the same group 14.",
        ),
        (
            {"ike_integrity": "GCMAES256"},
            "IKE integrity GCMAES256 is not in Azure's documented list; with GCM IKE encryption "
            "Azure's integrity is the PRF; use SHA256 or SHA384.",
        ),
        (
            {"ike_encryption": "AES512"},
            "IKE encryption 'AES512' is not an Azure value; use one of GCMAES256, GCMAES128, "
            "AES256, AES192, AES128.",
        ),
        (
            {"dh_group": ""},
            "DH group is missing; Azure needs all eight fields of a custom policy (e.g. DHGroup24).",
        ),
        (
            {"sa_lifetime_seconds": 299},
            "SA lifetime 299 s is outside Azure's 300-172799 s; use 27000 (Azure's default, 7.5 h).",
        ),
        (
            {"sa_lifetime_seconds": 172800},
            "SA lifetime 172800 s is outside Azure's 300-172799 s; use 27000 (Azure's default, 7.5 h).",
        ),
        (
            {"sa_data_size_kilobytes": 1023},
            "SA data size 1023 KB is outside Azure's 1024-2147483647 KB; use 102400000 (Azure's default).",
        ),
        (
            {"sa_lifetime_seconds": None},
            "SA lifetime is missing; Azure needs it in seconds (27000 is the default).",
        ),
    ],
)
def test_it_refuses_a_policy_with_a_plain_reason(changes, message):
    assert validate_policy(policy(**changes)) == [message]


def test_the_lifetime_limits_are_inclusive():
    assert validate_policy(policy(sa_lifetime_seconds=300, sa_data_size_kilobytes=1024)) == []
    assert (
        validate_policy(policy(sa_lifetime_seconds=172799, sa_data_size_kilobytes=2147483647)) == []
    )


def test_dpd_timeout_limits():
    assert validate_dpd_timeout(9) == 9 and validate_dpd_timeout(3600) == 3600
    with pytest.raises(PolicyError) as info:
        validate_dpd_timeout(3601)
    assert info.value.field == "dpd_timeout_seconds"
    assert (
        str(info.value)
        == "DPD timeout 3601 s is outside Azure's 9-3600 s; use 45 (Azure's default)."
    )


def test_the_offered_lists_leave_out_what_pfsense_cannot_do():
    offered = {*IKE_ENCRYPTIONS, *IKE_INTEGRITIES, *DH_GROUPS, *IPSEC_ENCRYPTIONS, *PFS_GROUPS}
    assert not offered & {"DES", "DES3", "MD5"}
    assert "None" not in DH_GROUPS and "None" not in IPSEC_ENCRYPTIONS


# ---- mapping --------------------------------------------------------------------------------


def test_the_canonical_policy_maps_to_the_pfsense_reference_settings():
    assert to_pfsense(POLICY) == PfSenseCrypto(
        ike_proposals=(("aes", 256, "sha256", 14),),
        esp_encryptions=(("aes256gcm", 128),),
        esp_hashes=("hmac_sha256",),
        pfs_group=14,
        ike_lifetime=28800,
        child_lifetime=27000,
    )


def test_the_canonical_policy_maps_to_strongswan_proposals():
    assert to_strongswan(POLICY) == ("aes256-sha256-modp2048", "aes256gcm16-modp2048")


def test_pfsense_renders_the_canonical_settings_like_its_swanctl_conf():
    assert pfsense_to_strongswan(to_pfsense(POLICY)) == (
        "aes256-sha256-modp2048",
        "aes256gcm128-modp2048",
    )


def test_a_gcm_ike_cipher_names_its_prf():
    p = PRESETS["suite-b-ecp384"].policy
    assert to_strongswan(p) == ("aes256gcm16-prfsha384-ecp384", "aes256gcm16-ecp384")
    assert to_pfsense(p).ike_proposals == (("aes256gcm", 128, "sha384", 20),)


def test_cbc_esp_carries_its_hash_and_no_pfs_means_no_group():
    p = policy(ipsec_encryption="AES128", ipsec_integrity="SHA1", pfs_group="None")
    crypto = to_pfsense(p)
    assert (crypto.esp_encryptions, crypto.esp_hashes, crypto.pfs_group) == (
        (("aes", 128),),
        ("hmac_sha1",),
        0,
    )
    assert to_strongswan(p)[1] == "aes128-sha1"
    assert pfsense_to_strongswan(crypto)[1] == "aes128-sha1"


@pytest.mark.parametrize(
    ("azure", "number"),
    [
        ("DHGroup1", 1),
        ("DHGroup2", 2),
        ("DHGroup14", 14),
        ("DHGroup2048", 14),
        ("ECP256", 19),
        ("ECP384", 20),
        ("DHGroup24", 24),
    ],
)
def test_dh_groups_map_to_pfsense_numbers(azure, number):
    assert to_pfsense(policy(dh_group=azure)).ike_proposals[0][3] == number


def test_pfsense_renders_every_combination_of_several_options():
    crypto = pfsense(
        ike_proposals=(("aes", 256, "sha256", 14), ("aes128gcm", 128, "sha256", 19)),
        esp_encryptions=(("aes256gcm", 128), ("aes", 256)),
        esp_hashes=("hmac_sha256", "hmac_sha1"),
        pfs_group=0,
    )
    assert pfsense_to_strongswan(crypto) == (
        "aes256-sha256-modp2048,aes128gcm128-sha256-ecp256",
        "aes256gcm128,aes256-sha256,aes256-sha1",
    )


def test_an_invalid_policy_cannot_be_mapped():
    with pytest.raises(PolicyError, match="IKE encryption DES3 is not available on pfSense"):
        to_pfsense(policy(ike_encryption="DES3"))
    with pytest.raises(PolicyError):
        to_strongswan(policy(ike_encryption="DES3"))


def test_pfsense_settings_azure_has_no_word_for_are_refused():
    with pytest.raises(PolicyError) as info:
        from_pfsense(pfsense(ike_proposals=(("aes", 256, "sha512", 31),)))
    assert str(info.value).startswith(
        "Azure has no equivalent for pfSense's phase 1 hash sha512, DH group 31; pick AES or AES-GCM"
    )


def test_azure_default_offers_are_dh_group_2_for_ike_and_26_esp_proposals():
    ike, esp = azure_default_offers()
    assert ike[:2] == ["aes256-sha1-modp1024", "aes256-sha256-modp1024"]
    assert all(p.endswith("-modp1024") for p in ike) and len(ike) == 6
    assert len(esp) == 26
    assert (
        esp[0] == "aes256gcm16"
        and "aes256-sha256-modp2048" in esp
        and "aes256gcm16-modp2048" not in esp
    )


# ---- negotiation ---------------------------------------------------------------------------


def test_the_canonical_ends_negotiate_everything():
    result = check_negotiation(POLICY, to_pfsense(POLICY))
    assert result.ok and result.reasons == ()
    assert (result.ike, result.esp, result.rekey_esp) == (
        "aes256-sha256-modp2048",
        "aes256gcm16",
        "aes256gcm16-modp2048",
    )


def test_a_pfs_mismatch_only_breaks_the_first_rekey():
    result = check_negotiation(POLICY, pfsense(pfs_group=0))
    assert (result.ike_ok, result.child_ok, result.rekey_ok, result.ok) == (
        True,
        True,
        False,
        False,
    )
    assert result.esp == "aes256gcm16"
    assert result.reasons == (
        "PFS mismatch: Azure uses PFS2048, pfSense offers no PFS - the tunnel comes up but fails "
        "at the first child SA rekey (about 7.5 h). Set pfSense's PFS group to match Azure's PFS2048.",
    )


def test_a_pfs_mismatch_the_other_way_round_names_both_groups():
    result = check_negotiation(policy(pfs_group="None"), pfsense(pfs_group=19, child_lifetime=3600))
    assert result.reasons == (
        "PFS mismatch: Azure uses PFS None, pfSense offers PFS group 19 (ecp256) - the tunnel comes "
        "up but fails at the first child SA rekey (about 1 h). Set pfSense's PFS group to match "
        "Azure's PFS None.",
    )


def test_a_dh_group_mismatch_stops_ike():
    result = check_negotiation(POLICY, pfsense(ike_proposals=(("aes", 256, "sha256", 2),)))
    assert (result.ike_ok, result.child_ok, result.rekey_ok) == (False, False, False)
    assert result.reasons == (
        "IKE proposal mismatch: Azure's custom policy accepts aes256-sha256-modp2048, pfSense "
        "offers aes256-sha256-modp1024 (DH group: Azure 14 (modp2048), pfSense 2 (modp1024)) - "
        "phase 1 fails with NO_PROPOSAL_CHOSEN and nothing comes up. Make pfSense's phase 1 "
        "match Azure exactly.",
    )


def test_a_second_pfsense_proposal_can_save_ike():
    crypto = pfsense(ike_proposals=(("aes", 128, "sha1", 2), ("aes", 256, "sha256", 14)))
    assert check_negotiation(POLICY, crypto).ok


def test_an_esp_mismatch_lets_ike_up_but_no_child_sa():
    result = check_negotiation(POLICY, pfsense(esp_encryptions=(("aes", 256),)))
    assert (result.ike_ok, result.child_ok, result.rekey_ok) == (True, False, False)
    assert result.ike == "aes256-sha256-modp2048"
    assert result.reasons == (
        "ESP proposal mismatch: Azure's custom policy accepts aes256gcm16, pfSense offers "
        "aes256-sha256 (encryption: Azure GCMAES256 (aes256gcm16), pfSense aes256; integrity: "
        "Azure none (GCM), pfSense sha256) - IKE comes up but the child SA fails with "
        "NO_PROPOSAL_CHOSEN, so no traffic and no BGP. Make pfSense's phase 2 match Azure.",
    )


def test_a_gcm_icv_other_than_128_bits_does_not_match_azure():
    result = check_negotiation(POLICY, pfsense(esp_encryptions=(("aes256gcm", 64),)))
    assert not result.child_ok
    assert "pfSense offers aes256gcm8" in result.reasons[0]


def test_the_pfsense_hash_of_a_gcm_ike_proposal_is_the_prf():
    azure = policy(ike_encryption="GCMAES256", ike_integrity="SHA256")
    good = pfsense(ike_proposals=(("aes256gcm", 128, "sha256", 14),))
    assert check_negotiation(azure, good).ike == "aes256gcm16-prfsha256-modp2048"
    bad = check_negotiation(azure, pfsense(ike_proposals=(("aes256gcm", 128, "sha384", 14),)))
    assert not bad.ike_ok
    assert "PRF: Azure sha256, pfSense sha384" in bad.reasons[0]


def test_an_invalid_azure_policy_negotiates_nothing_and_says_why():
    result = check_negotiation(policy(ipsec_integrity="SHA1"), PFSENSE)
    assert not (result.ike_ok or result.child_ok or result.rekey_ok)
    assert result.reasons[0].startswith(
        "Azure policy: IPsec encryption GCMAES256 with integrity SHA1"
    )


def test_pfsense_without_proposals_is_explained():
    assert not check_negotiation(POLICY, pfsense(ike_proposals=())).ike_ok
    result = check_negotiation(POLICY, pfsense(esp_encryptions=()))
    assert result.ike_ok and not result.child_ok


# ---- Azure default policy --------------------------------------------------------------------


def test_the_canonical_pfsense_does_not_match_azures_default_dh_group_2():
    result = check_negotiation(None, PFSENSE)
    assert not result.ike_ok
    assert "DH group: Azure 2 (modp1024), pfSense 14 (modp2048)" in result.reasons[0]
    assert result.reasons[0].endswith(
        "Azure's default policy offers only DH group 2; better set a custom policy."
    )


def test_pfsense_with_dh2_and_no_pfs_matches_azures_defaults():
    result = check_negotiation(
        None, pfsense(ike_proposals=(("aes", 256, "sha256", 2),), pfs_group=0)
    )
    assert result.ok
    assert (result.ike, result.esp) == (
        "aes256-sha256-modp1024",
        "aes256gcm16",
    )


def test_gcm_with_pfs_against_azures_defaults_fails_at_rekey():
    result = check_negotiation(
        None, pfsense(ike_proposals=(("aes", 256, "sha256", 2),), pfs_group=14)
    )
    assert (result.ike_ok, result.child_ok, result.rekey_ok) == (True, True, False)
    assert result.reasons[0].startswith(
        "PFS mismatch: Azure's default policy does not accept aes256gcm16 with PFS group 14 (modp2048)"
    )


def test_cbc_with_pfs_against_azures_defaults_fails_when_azure_rekeys():
    crypto = pfsense(
        ike_proposals=(("aes", 256, "sha256", 2),),
        esp_encryptions=(("aes", 256),),
        esp_hashes=("hmac_sha256",),
        pfs_group=14,
    )
    result = check_negotiation(None, crypto)
    assert (result.ike_ok, result.child_ok, result.rekey_ok) == (True, True, False)
    assert result.esp == "aes256-sha256"
    assert "Azure's default policy rekeys without PFS" in result.reasons[0]


# ---- properties ----------------------------------------------------------------------------


@st.composite
def valid_policies(draw):
    enc = draw(st.sampled_from(IPSEC_ENCRYPTIONS))
    integ = enc if "GCM" in enc else draw(st.sampled_from(["SHA256", "SHA1"]))
    return IpsecPolicy(
        ike_encryption=draw(st.sampled_from(IKE_ENCRYPTIONS)),
        ike_integrity=draw(st.sampled_from(IKE_INTEGRITIES)),
        dh_group=draw(st.sampled_from([g for g in DH_GROUPS if g != "DHGroup2048"])),
        ipsec_encryption=enc,
        ipsec_integrity=integ,
        pfs_group=draw(st.sampled_from(PFS_GROUPS)),
        sa_lifetime_seconds=draw(st.integers(min_value=300, max_value=172799)),
        sa_data_size_kilobytes=draw(st.integers(min_value=1024, max_value=2147483647)),
    )


@given(valid_policies())
def test_every_valid_policy_round_trips_through_pfsense(p):
    assert validate_policy(p) == []
    assert from_pfsense(to_pfsense(p), p.sa_data_size_kilobytes) == p


@given(valid_policies())
def test_every_valid_policy_negotiates_with_its_pfsense_mirror(p):
    result = check_negotiation(p, to_pfsense(p))
    assert result.ok, result.reasons
    assert result.rekey_esp == to_strongswan(p)[1]


@given(valid_policies(), st.sampled_from([0, 1, 2, 14, 19, 20, 24, 31]))
def test_a_different_pfs_group_on_pfsense_breaks_only_the_rekey(p, group):
    crypto = to_pfsense(p)
    if group == crypto.pfs_group:
        return
    result = check_negotiation(p, dataclasses.replace(crypto, pfs_group=group))
    assert (result.ike_ok, result.child_ok, result.rekey_ok) == (True, True, False)
    assert result.reasons[0].startswith("PFS mismatch:")


@given(valid_policies())
def test_pfsense_rendering_and_azure_proposals_name_the_same_algorithms(p):
    az_ike, az_esp = to_strongswan(p)
    pf_ike, pf_esp = pfsense_to_strongswan(to_pfsense(p))
    assert az_esp == pf_esp.replace("gcm128", "gcm16")
    assert az_ike.split("-")[-1] == pf_ike.split("-")[-1]  # the DH group
