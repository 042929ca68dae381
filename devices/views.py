"""The enrolment QR code, rendered from an encrypted, expiring token in its URL."""

from __future__ import annotations

import io

import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from devices.services import activation_url


def enrollment_qr(request: HttpRequest) -> HttpResponse:
    """SVG QR of the activation link. The token is the Fernet-encrypted code and expires with enrolment."""
    fernet = MultiFernet([Fernet(key) for key in settings.MFA_SECRET_ENCRYPTION_KEYS])
    try:
        code = fernet.decrypt(request.GET.get("t", "").encode(), ttl=settings.MFA_ACTIVATION_TTL_SECONDS).decode()
    except (InvalidToken, UnicodeDecodeError):
        return JsonResponse({"code": "qr_token_invalid", "detail": "This QR link is invalid or expired."}, status=404)
    buffer = io.BytesIO()
    segno.make(activation_url(code), error="m").save(buffer, kind="svg", scale=6, border=2)
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
