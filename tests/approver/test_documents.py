"""The shell, service worker, manifest and brand stylesheet: CSP, scope, and per-tenant branding."""

from __future__ import annotations

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from tenants.branding import contrast_ratio, readable_text_on

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_shell__csp_without_inline_script_and_only_own_assets(client):
    response = client.get("/approver/", HTTP_HOST="localhost")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "object-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    html = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    assert not re.search(r"<style|\sstyle=", html), "no inline style"
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not url.startswith(("http:", "https:", "//")), f"third-party asset {url}"


def test_service_worker__served_under_approver_scope(client):
    response = client.get("/approver/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/approver/"
    assert b'addEventListener("push"' in response.content


def test_manifest__default_brand(client):
    manifest = json.loads(client.get("/approver/manifest.webmanifest").content)
    assert manifest["scope"] == "/approver/"
    assert manifest["display"] == "standalone"
    assert manifest["name"] == "MFA Approver"
    assert {"192x192", "512x512"} <= {i["sizes"] for i in manifest["icons"]}


def test_manifest__tenant_brand_from_admin_fields(client, tenant, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # the uploaded logo goes to a throwaway folder
    tenant.brand_name, tenant.app_name, tenant.app_short_name = "Acme", "Acme Sign-in", "Acme"
    tenant.brand_primary_color, tenant.brand_background_color = "#ff6600", "#101010"
    tenant.brand_logo = SimpleUploadedFile("logo.png", PNG, content_type="image/png")
    tenant.full_clean()
    tenant.save()
    manifest = json.loads(client.get("/approver/manifest.webmanifest?tenant=acme").content)
    assert (manifest["name"], manifest["short_name"]) == ("Acme Sign-in", "Acme")
    assert (manifest["theme_color"], manifest["background_color"]) == ("#ff6600", "#101010")
    assert manifest["icons"][0]["src"] == "/approver/brand/acme/logo"
    logo = client.get("/approver/brand/acme/logo")
    assert logo.status_code == 200
    assert logo["Content-Type"] == "image/png"
    assert b"".join(logo.streaming_content) == PNG
    css = client.get("/approver/brand.css?tenant=acme").content.decode()
    assert "--brand-primary:#ff6600;" in css
    assert "--brand-on-primary:#000000;" in css


def test_shell__signed_in_device__wears_its_tenant_brand(enrolled, tenant):
    tenant.brand_name = "Acme Bank Secure"
    tenant.save()
    html = enrolled.client.get("/approver/").content.decode()
    assert "Acme Bank Secure" in html
    assert 'href="/approver/manifest.webmanifest?tenant=acme"' in html


def test_brand__invalid_colour_or_svg_logo__rejected_by_validation(tenant):
    tenant.brand_primary_color = "red;}body{display:none"
    with pytest.raises(ValidationError) as error:
        tenant.full_clean()
    assert "brand_primary_color" in error.value.message_dict
    tenant.brand_primary_color = "#123456"
    tenant.brand_logo = SimpleUploadedFile("logo.svg", b"<svg onload='alert(1)'/>", content_type="image/svg+xml")
    with pytest.raises(ValidationError) as error:
        tenant.full_clean()
    assert "brand_logo" in error.value.message_dict


def test_logo__unknown_tenant__404(client):
    assert client.get("/approver/brand/nobody/logo").status_code == 404


def test_readable_text_on__always_meets_wcag_aa():
    for colour in ["#ffffff", "#000000", "#777777", "#1d4ed8", "#ff6600", "#00ff00", "#767676"]:
        assert contrast_ratio(colour, readable_text_on(colour)) >= 4.5, colour


def test_admin__device_page_shows_webauthn_credential_read_only(enrolled, admin_client):
    from devices.models import Device

    device = Device.objects.get()
    response = admin_client.get(f"/admin/devices/device/{device.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert enrolled.authenticator.credential_id_b64 in html
    assert "WebAuthn platform credential" in html


def test_admin__tenant_branding_fieldset(admin_client, tenant):
    response = admin_client.get(f"/admin/tenants/tenant/{tenant.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    for field in ("brand_primary_color", "brand_background_color", "brand_logo", "app_name", "app_short_name"):
        assert f'name="{field}"' in html
    assert 'href="/approver/?tenant=acme"' in html
