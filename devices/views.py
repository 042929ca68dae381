"""The enrolment QR code, rendered from an encrypted token in its URL while its enrolment is usable."""

from __future__ import annotations

import io

import segno
from django.http import HttpRequest, HttpResponse, JsonResponse

from devices.selectors import enrollment_code_is_pending
from devices.services import activation_url
from mfa_server.crypto import decrypt_secret


def enrollment_qr(request: HttpRequest) -> HttpResponse:
    """SVG QR of the activation link. The token is the Fernet-encrypted code; the link works exactly as
    long as the code does (not after it was used, expired or was expired by an admin)."""
    try:
        code = decrypt_secret(request.GET.get("t", ""))
    except ValueError:  # no key fits, or not text
        code = ""
    if not code or not enrollment_code_is_pending(code=code):
        return JsonResponse({"code": "qr_token_invalid", "detail": "This QR link is invalid or expired."}, status=404)
    buffer = io.BytesIO()
    segno.make(activation_url(code), error="m").save(buffer, kind="svg", scale=6, border=2)
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
