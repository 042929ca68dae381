"""Where a request comes from, and which client certificate its TLS connection presented.

Proxy headers (``X-Forwarded-For`` and the client-certificate headers nginx sets) are honoured only
when the direct peer is a configured trusted proxy (``MFA_TRUSTED_PROXIES``). From anywhere else they
are ignored: the client IP is the peer address and the request presents no certificate.
``X-Forwarded-For`` is read from the right: the first address that is not a trusted proxy is the
client; everything left of it was written by the client and can be anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from mfa_server.addresses import IpNetwork, in_networks, parse_ip, parse_networks


@dataclass(frozen=True)
class PresentedCertificate:
    """The client certificate a trusted TLS proxy forwarded, and the proxy's own verification result."""

    pem: str  # URL-encoded as nginx sends it, or plain PEM
    proxy_verify: str  # nginx $ssl_client_verify: SUCCESS, FAILED:<reason> or NONE


def is_trusted(value: str | None, trusted: Iterable[IpNetwork]) -> bool:
    """Is ``value`` an address inside one of the ``trusted`` networks?"""
    address = parse_ip(value)
    return address is not None and in_networks(address, trusted)


def resolve_client_ip(*, remote_addr: str | None, forwarded_for: str, trusted: tuple[IpNetwork, ...]) -> str | None:
    """The client address: the right-most ``X-Forwarded-For`` hop that is not a trusted proxy.

    Pure (the table-driven tests call it directly). When the peer is untrusted the header is ignored.
    A malformed hop stops the walk: the last trusted hop seen is the best address we can vouch for.
    """
    if not remote_addr or not is_trusted(remote_addr, trusted):
        return remote_addr or None
    client = remote_addr
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = parse_ip(hop)
        if address is None:
            return client
        client = str(address)
        if not is_trusted(client, trusted):
            return client
    return client


def _trusted() -> tuple[IpNetwork, ...]:
    return _networks(tuple(settings.MFA_TRUSTED_PROXIES))


@lru_cache(maxsize=16)  # keyed by the setting's value, so a changed setting (tests) is parsed anew
def _networks(values: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return parse_networks(values)


def meta_client_ip(meta: Mapping[str, Any]) -> str | None:
    """The client address from a WSGI-style ``META`` (a request's, or ``scope_meta`` of a WebSocket)."""
    return resolve_client_ip(
        remote_addr=meta.get("REMOTE_ADDR"),
        forwarded_for=meta.get(settings.MFA_FORWARDED_FOR_HEADER, ""),
        trusted=_trusted(),
    )


def meta_certificate(meta: Mapping[str, Any]) -> PresentedCertificate | None:
    """The forwarded client certificate in a WSGI-style ``META``; None when absent or the peer is untrusted."""
    if not is_trusted(meta.get("REMOTE_ADDR"), _trusted()):
        return None
    pem = meta.get(settings.MFA_CLIENT_CERT_HEADER, "").strip()
    verify = meta.get(settings.MFA_CLIENT_VERIFY_HEADER, "").strip()
    if not pem or verify == "NONE":
        return None
    return PresentedCertificate(pem=pem, proxy_verify=verify or "NONE")


def client_ip(request: HttpRequest) -> str | None:
    """The address of whoever made the request (through trusted proxies only)."""
    return meta_client_ip(request.META)


def presented_certificate(request: HttpRequest) -> PresentedCertificate | None:
    """The client certificate forwarded by a trusted TLS proxy; None when absent or the peer is untrusted."""
    return meta_certificate(request.META)


def scope_meta(scope: Mapping[str, Any]) -> dict[str, str]:
    """``REMOTE_ADDR`` and the ``HTTP_*`` headers of an ASGI connection scope (a WebSocket handshake), named
    and joined as Django's ``ASGIRequest`` builds ``request.META``, so the functions above judge both alike."""
    meta: dict[str, str] = {}
    if scope.get("client"):
        meta["REMOTE_ADDR"] = str(scope["client"][0])
    for raw_name, raw_value in scope.get("headers", []):
        name = "HTTP_" + raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        separator = "; " if name == "HTTP_COOKIE" else ","
        meta[name] = f"{meta[name]}{separator}{value}" if name in meta else value
    return meta
