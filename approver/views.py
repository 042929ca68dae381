"""The approver web app's documents: HTML shell, service worker, per-tenant manifest, brand stylesheet, logo.

The shell carries no inline script or style (see ``csp.py``); the brand is a tiny stylesheet generated
from validated colours, so rebranding in Django admin needs no rebuild.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET

from approver.authentication import device_from_cookie
from approver.csp import with_csp
from approver.selectors import tenant_for_brand
from tenants.branding import Brand, brand_for, logo_content_type
from tenants.models import Tenant

SW_PATH = Path(settings.BASE_DIR) / "static" / "approver" / "sw.js"


def _tenant_of_request(request: HttpRequest) -> Tenant | None:
    """The brand to wear: the signed-in device's tenant, else ``?tenant=<slug>``, else the default."""
    device = device_from_cookie(request.COOKIES)
    if device is not None:
        return device.subscriber.tenant
    return tenant_for_brand(slug=request.GET.get("tenant", "")[:60])


def _brand_query(brand: Brand) -> str:
    return f"?tenant={brand.slug}" if brand.slug else ""


@require_GET
@with_csp
def shell(request: HttpRequest) -> HttpResponse:
    """The single page; JS modules take over from here."""
    brand = brand_for(_tenant_of_request(request))
    context = {
        "brand": brand,
        "brand_query": _brand_query(brand),
        "csrf_token": get_token(request),
        "api_timeout_ms": round(settings.MFA_APPROVER_API_TIMEOUT_SECONDS * 1000),
        "logo_url": reverse("approver-logo", args=[brand.slug]) if brand.has_logo else "",
    }
    response = render(request, "approver/index.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@with_csp
def service_worker(request: HttpRequest) -> HttpResponse:
    """Served from /approver/sw.js so that its default scope is /approver/ (a /static/ worker could not be)."""
    response = HttpResponse(SW_PATH.read_bytes(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/approver/"
    return response


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    """The web app manifest in the tenant's brand: name, colours, icons (its logo first when it has one)."""
    brand = brand_for(_tenant_of_request(request))
    icons = [
        {"src": static("approver/icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static("approver/icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {"src": static("approver/icons/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
    ]
    if brand.has_logo:
        icons.insert(0, {"src": reverse("approver-logo", args=[brand.slug]), "sizes": "any"})
    body = {
        "id": "/approver/",
        "name": brand.app_name,
        "short_name": brand.app_short_name,
        "description": f"Approve sign-ins to {brand.product_name} with your fingerprint or face.",
        "start_url": "/approver/" + _brand_query(brand),
        "scope": "/approver/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": brand.primary_color,
        "background_color": brand.background_color,
        "icons": icons,
    }
    response = HttpResponse(json.dumps(body, indent=1), content_type="application/manifest+json")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def brand_css(request: HttpRequest) -> HttpResponse:
    """CSS custom properties of the brand; colours are validated ``#rrggbb`` so nothing needs escaping."""
    brand = brand_for(_tenant_of_request(request))
    css = (
        ":root{"
        f"--brand-primary:{brand.primary_color};"
        f"--brand-on-primary:{brand.on_primary_color};"
        f"--brand-background:{brand.background_color};"
        f"--brand-text:{brand.text_color};"
        "}\n"
    )
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def logo(request: HttpRequest, slug: str) -> HttpResponse:
    """The tenant's uploaded logo, served by us with a sniffed raster type (never as HTML or SVG)."""
    tenant = tenant_for_brand(slug=slug)
    if tenant is None or not tenant.brand_logo:
        raise Http404()
    handle = tenant.brand_logo.open("rb")
    content_type = logo_content_type(handle.read(16))
    if content_type is None:
        handle.close()
        raise Http404()
    handle.seek(0)
    response = FileResponse(handle, content_type=content_type)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "public, max-age=300"
    return response
