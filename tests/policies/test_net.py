"""Trusted-proxy handling: X-Forwarded-For counted from the right, certificate headers only from proxies."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from mfa_server.addresses import parse_networks
from mfa_server.net import presented_certificate, resolve_client_ip

PROXIES = parse_networks(["10.0.0.0/8", "fd00::/8", "127.0.0.1/32"])

CHAINS = [
    # peer, X-Forwarded-For, expected client
    ("203.0.113.5", "", "203.0.113.5"),  # direct client, no header
    ("203.0.113.5", "1.2.3.4", "203.0.113.5"),  # untrusted peer: its header is ignored
    ("203.0.113.5", "10.0.0.1, 1.2.3.4", "203.0.113.5"),
    ("10.0.0.2", "198.51.100.7", "198.51.100.7"),  # one trusted proxy
    ("10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the left-most (spoofable) entry is not believed
    ("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.1.1.1", "198.51.100.7"),  # two proxies: right-most untrusted hop
    ("10.0.0.2", "10.9.9.9, 10.1.1.1", "10.9.9.9"),  # every hop trusted: the left-most we reached
    ("10.0.0.2", "", "10.0.0.2"),
    ("10.0.0.2", " , ,198.51.100.7 ", "198.51.100.7"),
    ("10.0.0.2", "6.6.6.6, garbage, 198.51.100.7", "198.51.100.7"),
    ("10.0.0.2", "198.51.100.7, garbage", "10.0.0.2"),  # a malformed hop stops the walk at what we trust
    ("fd00::1", "2001:db8::42", "2001:db8::42"),  # IPv6 proxy, IPv6 client
    ("fd00::1", "2001:db8::42, fd00::9", "2001:db8::42"),
    ("fd00::1", "198.51.100.7", "198.51.100.7"),  # IPv6 proxy, IPv4 client
    ("::ffff:10.0.0.2", "198.51.100.7", "198.51.100.7"),  # IPv4-mapped peer is the IPv4 proxy
    ("10.0.0.2", "[2001:db8::42]", "2001:db8::42"),  # bracketed IPv6
    ("2001:db8::1", "198.51.100.7", "2001:db8::1"),
    ("127.0.0.1", "::ffff:198.51.100.7", "198.51.100.7"),
    (None, "198.51.100.7", None),
    ("", "198.51.100.7", None),
]


@pytest.mark.parametrize(("peer", "forwarded", "client"), CHAINS)
def test_resolve_client_ip__trusted_proxy_chains(peer, forwarded, client):
    assert resolve_client_ip(remote_addr=peer, forwarded_for=forwarded, trusted=PROXIES) == client


def test_resolve_client_ip__no_trusted_proxy_configured_ignores_the_header():
    assert resolve_client_ip(remote_addr="10.0.0.2", forwarded_for="198.51.100.7", trusted=()) == "10.0.0.2"


def test_parse_networks__bad_trusted_proxy_entry_raises():
    with pytest.raises(ValueError, match="does not appear"):
        parse_networks(["10.0.0.0/8", "nonsense"])


@pytest.fixture
def proxied(settings):
    settings.MFA_TRUSTED_PROXIES = ["10.0.0.0/8"]
    return RequestFactory()


@pytest.mark.parametrize(
    ("peer", "cert", "verify", "expected"),
    [
        ("10.0.0.2", "-----BEGIN%20CERTIFICATE-----", "SUCCESS", ("-----BEGIN%20CERTIFICATE-----", "SUCCESS")),
        ("10.0.0.2", "PEM", "FAILED:certificate has expired", ("PEM", "FAILED:certificate has expired")),
        ("10.0.0.2", "PEM", "", ("PEM", "NONE")),
        ("10.0.0.2", "", "SUCCESS", None),
        ("10.0.0.2", "PEM", "NONE", None),
        ("203.0.113.5", "PEM", "SUCCESS", None),  # forged by a client that is not our proxy: ignored
    ],
)
def test_presented_certificate__only_from_trusted_proxies(proxied, peer, cert, verify, expected):
    request = proxied.get("/", REMOTE_ADDR=peer, HTTP_X_SSL_CLIENT_CERT=cert, HTTP_X_SSL_CLIENT_VERIFY=verify)
    presented = presented_certificate(request)
    assert (None if presented is None else (presented.pem, presented.proxy_verify)) == expected


def test_client_ip__reads_the_configured_header(proxied, settings):
    settings.MFA_FORWARDED_FOR_HEADER = "HTTP_X_REAL_CHAIN"
    request = proxied.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1", HTTP_X_REAL_CHAIN="2.2.2.2")
    from mfa_server.net import client_ip

    assert client_ip(request) == "2.2.2.2"


def test_check_trusted_proxies__bad_cidr_is_a_startup_error(settings):
    from policies.checks import check_trusted_proxies

    settings.MFA_TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    assert check_trusted_proxies() == []
    settings.MFA_TRUSTED_PROXIES = ["10.0.0.0/33"]
    assert [error.id for error in check_trusted_proxies()] == ["policies.E001"]
