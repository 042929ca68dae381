"""What a request tells the policy engine, gathered once at the edge (views, permissions)."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from mfa_server.net import PresentedCertificate, client_ip, presented_certificate


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
    return RequestFacts(
        end_user_ip=end_user_ip,
        service_ip=client_ip(request),
        certificate=presented_certificate(request),
        device_id=device_id,
    )
