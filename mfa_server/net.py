"""Where a request comes from."""

from __future__ import annotations

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The peer address of the connection. Proxy headers are not trusted here (see the policy issue)."""
    return request.META.get("REMOTE_ADDR") or None
