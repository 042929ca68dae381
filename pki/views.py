"""Public CA downloads: CRLs (DER and PEM) and CA chains, at stable URLs keyed by the CA's public id.

These are deliberately unauthenticated: relying parties (nginx, browsers, OpenSSL) fetch CRLs and
chains without credentials, and neither contains anything secret.
"""

from __future__ import annotations

import base64
import binascii
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from pki.models import CertificateAuthority
from pki.ocsp import ocsp_respond
from pki.selectors import ca_chain_pem, crl_pem


def _crl_response(ca: CertificateAuthority, body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    if ca.crl_next_update:
        response["Expires"] = http_date(ca.crl_next_update.timestamp())
    if ca.crl_this_update:
        response["Last-Modified"] = http_date(ca.crl_this_update.timestamp())
    return response


def _published(public_id: UUID) -> CertificateAuthority:
    ca = get_object_or_404(CertificateAuthority, public_id=public_id)
    if not ca.crl_der:
        raise Http404("no CRL published yet")
    return ca


@require_safe
def crl_der_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The CA's current CRL, DER (RFC 5280 §4.2.1.13 / RFC 2585 ``application/pkix-crl``)."""
    ca = _published(public_id)
    return _crl_response(ca, bytes(ca.crl_der), "application/pkix-crl", f"{ca.public_id}.crl")


@require_safe
def crl_pem_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The CA's current CRL, PEM."""
    ca = _published(public_id)
    return _crl_response(ca, crl_pem(ca=ca).encode(), "application/x-pem-file", f"{ca.public_id}.crl.pem")


@require_safe
def chain_pem_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The CA's certificate chain (CA first, root last) as a PEM bundle for ``ssl_client_certificate``."""
    ca = get_object_or_404(CertificateAuthority, public_id=public_id)
    response = HttpResponse(ca_chain_pem(ca=ca), content_type="application/x-pem-file")
    response["Content-Disposition"] = f'attachment; filename="{ca.public_id}-chain.pem"'
    return response


# OCSP clients POST without cookies or CSRF tokens; the endpoint changes nothing and needs no session.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def ocsp_view(request: HttpRequest, public_id: UUID, encoded: str = "") -> HttpResponse:
    """RFC 6960 responder: ``POST`` a DER request, or ``GET .../ocsp/<base64 request>`` (Appendix A.1)."""
    ca = get_object_or_404(CertificateAuthority, public_id=public_id)
    if request.method == "POST":
        request_der = request.body[:10000]
    else:
        try:
            request_der = base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            request_der = b""
    return HttpResponse(ocsp_respond(ca=ca, request_der=request_der), content_type="application/ocsp-response")
