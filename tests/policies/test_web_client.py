"""The hosted approver web app uses the same connection lock as the device API (one DRF permission)."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from devices.models import Device
from policies.models import Policy
from tests.approver.conftest import _webauthn_settings, activation_code, browser, enrolled  # noqa: F401
from tests.policies.certs import escaped

pytestmark = pytest.mark.django_db


def test_approver_api__client_certificate_bound_to_the_subscriber(enrolled, tenant, client_ca, settings):  # noqa: F811 (fixture imported above)
    device_id = enrolled.call("GET", "me").json()["device_id"]
    Policy.objects.create(
        tenant=tenant,
        client_cert_required=True,
        client_cert_binding="subscriber",
        client_cert_ca="uploaded",
        client_cert_ca_pem=client_ca.pem,
    )
    settings.MFA_TRUSTED_PROXIES = ["127.0.0.1/32"]
    refused = enrolled.call("GET", "me")
    assert (refused.status_code, refused.json()["code"]) == (403, "policy_denied")
    assert refused.json()["fields"] == {"rule": "client_certificate", "reason": "certificate_missing"}

    alice, _ = client_ca.issue("alice")
    bob, _ = client_ca.issue("bob")
    enrolled.client.defaults.update(HTTP_X_SSL_CLIENT_VERIFY="SUCCESS", REMOTE_ADDR="127.0.0.1")
    enrolled.client.defaults["HTTP_X_SSL_CLIENT_CERT"] = escaped(bob)
    wrong = enrolled.call("PATCH", "me", {"name": "Renamed by someone else"})
    assert wrong.status_code == 403
    assert wrong.json()["fields"]["reason"] == "certificate_not_bound_to_subscriber"
    assert Device.objects.get(pk=device_id).name == "Alice's phone"  # nothing changed
    enrolled.client.defaults["HTTP_X_SSL_CLIENT_CERT"] = escaped(alice)
    assert enrolled.call("PATCH", "me", {"name": "Work phone"}).status_code == 200
    reasons = [e.detail["reason"] for e in AuditEvent.objects.filter(kind="policy.refused").order_by("id")]
    assert reasons == ["certificate_missing", "certificate_not_bound_to_subscriber"]
