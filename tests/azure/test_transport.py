"""The Azure client reads proxy and CA bundle settings from the environment once, when it is made
(requests would scan the whole environment on every request), and still honours them."""

from __future__ import annotations

import pytest

from s2svpn.clients.azure.session import _transport

PROXY = "http://proxy.example.net:3128"


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_an_https_proxy_from_the_environment_is_used_for_arm(clean_env):
    clean_env.setenv("HTTPS_PROXY", PROXY)
    transport, proxies = _transport(None, True)
    assert proxies == {"https": PROXY}
    transport.open()
    assert transport.session.trust_env is False  # the environment is not read again per request
    transport.close()


def test_no_proxy_for_an_arm_host_listed_in_no_proxy(clean_env):
    clean_env.setenv("HTTPS_PROXY", PROXY)
    clean_env.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert _transport("https://127.0.0.1:8443", True)[1] == {}
    assert _transport(None, True)[1] == {"https": PROXY}


def test_a_ca_bundle_from_the_environment_applies_only_when_no_ca_file_is_given(clean_env):
    clean_env.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corporate.pem")
    assert _transport(None, True)[0].connection_config.verify == "/etc/ssl/corporate.pem"
    assert (
        _transport(None, "/tmp/sandbox-ca.pem")[0].connection_config.verify == "/tmp/sandbox-ca.pem"
    )


def test_the_client_hands_that_proxy_to_the_sdk_pipeline(clean_env):
    from s2svpn.clients.azure import AzureVpnClient, _StaticToken

    clean_env.setenv("HTTPS_PROXY", PROXY)
    client = AzureVpnClient(_StaticToken(), "00000000-0000-0000-0000-000000000000")
    try:
        assert client._sdk._config.proxy_policy.proxies == {"https": PROXY}
    finally:
        client.close()
