"""The enrolment QR code, rendered from an encrypted, expiring token in its URL."""

from __future__ import annotations

import io

import segno
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from devices.services import activation_url
from mfa_server.crypto import decrypt_secret


def enrollment_qr(request: HttpRequest) -> HttpResponse:
    """SVG QR of the activation link. The token is the Fernet-encrypted code and expires with enrolment."""
    try:
        code = decrypt_secret(request.GET.get("t", ""), ttl=settings.MFA_ACTIVATION_TTL_SECONDS)
    except ValueError:  # no key fits, expired, or not text
        return JsonResponse({"code": "qr_token_invalid", "detail": "This QR link is invalid or expired."}, status=404)
    buffer = io.BytesIO()
    segno.make(activation_url(code), error="m").save(buffer, kind="svg", scale=6, border=2)
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
