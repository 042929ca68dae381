"""Admin: bypass codes issued once and shown once, phone numbers validated, passcode secret reset."""

from __future__ import annotations

import re

import pytest

from fallbacks.models import BypassCode, DeviceTotp, PhoneNumber
from policies.models import Policy
from tests.fallbacks.helpers import passcode
from tests.helpers import audit_kinds, db_text

pytestmark = pytest.mark.django_db


def test_admin_issue_bypass_codes__shown_once__hashed__usable(relying, subscriber, tenant, admin_client, settings):
    settings.MFA_BYPASS_CODES_PER_ISSUE = 3
    Policy.objects.create(tenant=tenant, factors=["push", "bypass_code"])
    response = admin_client.post(
        "/admin/fallbacks/subscriberaccess/", {"action": "issue_bypass_codes", "_selected_action": [subscriber.pk]}
    )
    assert response.status_code == 200
    page = response.content.decode()
    codes = re.findall(r"<code>(\d{9})</code>", page)
    assert len(codes) == 3
    assert "shown only once" in page
    assert BypassCode.objects.filter(subscriber=subscriber).count() == 3
    text = db_text()
    assert not any(code in text for code in codes)
    (event,) = [e for e in audit_kinds(subscriber_id=subscriber.pk) if e.startswith("bypass_code")]
    assert event == "bypass_code.issued"
    assert passcode(relying, codes[1]).json()["status"] == "approved"


def test_admin_revoke_bypass_codes(relying, subscriber, tenant, admin_client):
    from fallbacks.services import bypass_codes_issue

    Policy.objects.create(tenant=tenant, factors=["push", "bypass_code"])
    (code,) = bypass_codes_issue(subscriber=subscriber, actor="admin:root", count=1)
    admin_client.post(
        "/admin/fallbacks/subscriberaccess/", {"action": "revoke_bypass_codes", "_selected_action": [subscriber.pk]}
    )
    assert BypassCode.objects.get().revoked_at is not None
    assert passcode(relying, code).json()["status_reason"] == "bypass_code_invalid"
    assert "bypass_code.revoked" in audit_kinds(subscriber_id=subscriber.pk)


def test_admin_phone_number__validated_and_audited(subscriber, admin_client):
    bad = admin_client.post("/admin/fallbacks/phonenumber/add/", {"subscriber": subscriber.pk, "number": "12345"})
    assert bad.status_code == 200
    assert PhoneNumber.objects.count() == 0
    good = admin_client.post(
        "/admin/fallbacks/phonenumber/add/", {"subscriber": subscriber.pk, "number": "+44 7400 123456"}
    )
    assert good.status_code == 302
    assert PhoneNumber.objects.get().e164 == "+447400123456"
    assert audit_kinds(subscriber_id=subscriber.pk) == ["phone_number.set"]


def test_admin_reset_passcode_secret__device_can_provision_again(passcode_phone, admin_client):
    row = DeviceTotp.objects.get()
    admin_client.post("/admin/fallbacks/devicetotp/", {"action": "reset_secret", "_selected_action": [row.pk]})
    assert not DeviceTotp.objects.exists()
    phone = passcode_phone.device
    again = phone.client.post("/api/v1/device/passcode-secret", **phone.headers)
    assert again.status_code == 201
    assert again.json()["secret"] != passcode_phone.secret
    assert audit_kinds(kind__startswith="passcode_secret") == [
        "passcode_secret.provisioned",
        "passcode_secret.reset",
        "passcode_secret.provisioned",
    ]


def test_admin_pages_render(admin_client, passcode_phone, subscriber):
    for path in ("subscriberaccess", "bypasscode", "smssend", "phonenumber", "devicetotp"):
        response = admin_client.get(f"/admin/fallbacks/{path}/")
        assert response.status_code == 200, path
    assert passcode_phone.secret not in admin_client.get("/admin/fallbacks/devicetotp/").content.decode()
