"""The listener both stand-ins serve through (s2svpn.sandbox.https): TLS or plain, keep-alive,
a dropped connection on request, and a stop that leaves no connection open."""

from __future__ import annotations

import http.client
import ssl

import pytest

from s2svpn.sandbox.https import Listener, Reply
from s2svpn.sandbox.tls import make_ca


def echo(method: str, target: str, headers: dict[str, str], body: bytes) -> Reply | None:
    if target == "/drop":
        return None
    text = f"{method} {target} {headers.get('x-probe', '')} {body.decode()}".encode()
    return Reply(200, text, {"Content-Type": "text/plain"})


@pytest.fixture
def tls_listener(tmp_path):
    ca, cert, key = make_ca(tmp_path)
    listener = Listener(echo, name="probe", cert_file=cert, key_file=key, server_version="probe/1")
    listener.start()
    yield listener, ssl.create_default_context(cafile=str(ca))
    listener.stop()


def test_it_serves_the_responder_over_tls_with_keep_alive(tls_listener):
    listener, context = tls_listener
    conn = http.client.HTTPSConnection("127.0.0.1", listener.port, context=context)
    try:
        answers = []
        for n in range(2):  # one connection, two exchanges
            conn.request("PUT", f"/x?n={n}", body=b"hello", headers={"X-Probe": "p"})
            response = conn.getresponse()
            answers.append((response.status, response.read(), response.getheader("Server")))
    finally:
        conn.close()
    assert answers[0][:2] == (200, b"PUT /x?n=0 p hello")
    assert answers[1][:2] == (200, b"PUT /x?n=1 p hello")
    assert answers[0][2].startswith("probe/1")


def test_a_responder_answering_none_drops_the_connection(tls_listener):
    listener, context = tls_listener
    conn = http.client.HTTPSConnection("127.0.0.1", listener.port, context=context)
    try:
        conn.request("GET", "/drop")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            conn.getresponse()
    finally:
        conn.close()


def test_plain_http_when_given_no_certificate():
    listener = Listener(echo, name="plain")
    listener.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", listener.port)
        conn.request("GET", "/plain")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"GET /plain  ")
        conn.close()
    finally:
        listener.stop()


def test_stop_closes_idle_keep_alive_connections_too(tls_listener):
    listener, context = tls_listener
    conn = http.client.HTTPSConnection("127.0.0.1", listener.port, context=context)
    conn.request("GET", "/before")
    conn.getresponse().read()
    listener.stop()
    assert not listener.running
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError, OSError)):
        conn.request("GET", "/after")
        conn.getresponse()
    conn.close()
