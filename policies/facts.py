"""What a request tells the policy engine, gathered once at the edge (views, permissions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from mfa_server.net import PresentedCertificate, meta_certificate, meta_client_ip, scope_meta


@dataclass(frozen=True)
class RequestFacts:
    """Addresses and the certificate a request presented, before anything is checked.

    ``end_user_ip`` is what the relying service reports for the user; ``service_ip`` the address the
    call itself came from (through trusted proxies); ``certificate`` what the trusted TLS proxy forwarded.
    """

    end_user_ip: str | None = None
    service_ip: str | None = None
    certificate: PresentedCertificate | None = None
    device_id: int | None = None


def request_facts(
    request: HttpRequest, *, end_user_ip: str | None = None, device_id: int | None = None
) -> RequestFacts:
    """Facts of a relying-API call (``end_user_ip`` from the body) or of an end-user connection."""
    return _meta_facts(request.META, end_user_ip=end_user_ip, device_id=device_id)


def scope_facts(scope: Mapping[str, Any], *, device_id: int | None = None) -> RequestFacts:
    """Facts of a WebSocket handshake (ASGI scope): the same trusted-proxy rules as an HTTP request."""
    return _meta_facts(scope_meta(scope), device_id=device_id)


def _meta_facts(
    meta: Mapping[str, Any], *, end_user_ip: str | None = None, device_id: int | None = None
) -> RequestFacts:
    return RequestFacts(
        end_user_ip=end_user_ip,
        service_ip=meta_client_ip(meta),
        certificate=meta_certificate(meta),
        device_id=device_id,
    )
