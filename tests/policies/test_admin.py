"""Policy admin: every change audited with who changed what; the "test this policy" page creates nothing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from policies.models import Policy
from tests.policies.certs import pem

pytestmark = pytest.mark.django_db


def form_data(tenant, **overrides):
    data = {
        "tenant": tenant.pk,
        "application": "",
        "factors": json.dumps(["push", "webauthn"]),
        "require_user_verification": "on",
        "number_matching": "on",
        "approval_timeout_seconds": "",
        "user_networks_allow": "",
        "user_networks_deny": "",
        "service_networks_allow": "",
        "service_networks_deny": "",
        "client_cert_binding": "none",
        "client_cert_ca": "builtin",
        "client_cert_ca_pem": "",
        "client_cert_crl_pem": "",
        "push_limit": "",
        "push_window_seconds": "",
        "cooldown_seconds": "",
        "fraud_lockout_count": "",
        "new_device_minutes": "",
        "unknown_user": "enroll",
    }
    data.update(overrides)
    return data


def test_policy_admin__create_and_change_are_audited_with_a_diff(admin_client, tenant, client_ca):
    add = admin_client.post(reverse("admin:policies_policy_add"), form_data(tenant, user_networks_deny="10.66.0.0/16"))
    assert add.status_code == 302, add.content[:2000]
    policy = Policy.objects.get()
    created = AuditEvent.objects.get(kind="policy.created")
    assert (created.actor, created.tenant_id, created.detail["scope"]) == ("admin:admin", tenant.pk, "tenant")
    assert created.detail["changes"]["user_networks_deny"] == [None, "10.66.0.0/16"]

    change = admin_client.post(
        reverse("admin:policies_policy_change", args=[policy.pk]),
        form_data(
            tenant,
            user_networks_deny="10.66.0.0/16",
            push_limit="3",
            client_cert_required="on",
            client_cert_ca="uploaded",
            client_cert_ca_pem=client_ca.pem,
        ),
    )
    assert change.status_code == 302, change.content[:2000]
    changed = AuditEvent.objects.get(kind="policy.changed")
    changes = changed.detail["changes"]
    assert set(changes) == {"push_limit", "client_cert_required", "client_cert_ca", "client_cert_ca_pem"}
    assert changes["push_limit"] == [None, 3]
    assert changes["client_cert_required"] == [False, True]
    assert changes["client_cert_ca_pem"][0] == ""
    assert len(changes["client_cert_ca_pem"][1]) == 16  # a fingerprint
    assert "BEGIN CERTIFICATE" not in json.dumps(changed.detail)

    # Saving without a change records nothing.
    unchanged = admin_client.post(
        reverse("admin:policies_policy_change", args=[policy.pk]),
        form_data(
            tenant,
            user_networks_deny="10.66.0.0/16",
            push_limit="3",
            client_cert_required="on",
            client_cert_ca="uploaded",
            client_cert_ca_pem=client_ca.pem,
        ),
    )
    assert unchanged.status_code == 302  # saved (an invalid form would answer 200 and record nothing too)
    assert AuditEvent.objects.filter(kind="policy.changed").count() == 1

    admin_client.post(reverse("admin:policies_policy_delete", args=[policy.pk]), {"post": "yes"})
    deleted = AuditEvent.objects.get(kind="policy.deleted")
    assert deleted.detail["changes"]["push_limit"] == [3, None]
    assert not Policy.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("user_networks_allow", "10.0.0.0/8\nnot-a-network"),
        ("service_networks_deny", "2001:db8::/129"),
        ("client_cert_ca_pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
        ("client_cert_crl_pem", "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----"),
        ("factors", json.dumps(["push", "carrier-pigeon"])),
    ],
)
def test_policy_admin__bad_input_changes_nothing(admin_client, tenant, field, value):
    response = admin_client.post(reverse("admin:policies_policy_add"), form_data(tenant, **{field: value}))
    assert response.status_code == 200  # the form again, with the error
    assert field in response.context["adminform"].form.errors
    assert not Policy.objects.exists()
    assert not AuditEvent.objects.filter(kind__startswith="policy.").exists()


def test_policy_admin__uploaded_ca_requires_a_bundle(admin_client, tenant):
    response = admin_client.post(reverse("admin:policies_policy_add"), form_data(tenant, client_cert_ca="uploaded"))
    assert "client_cert_ca_pem" in response.context["adminform"].form.errors
    assert not Policy.objects.exists()


def test_policy_test_view__shows_each_verdict_and_creates_nothing(admin_client, tenant, issued_app, phone, client_ca):
    Policy.objects.create(
        tenant=tenant,
        user_networks_allow="10.0.0.0/8",
        client_cert_required=True,
        client_cert_ca="uploaded",
        client_cert_ca_pem=client_ca.pem,
    )
    url = reverse("admin:policies_policy_test")
    assert admin_client.get(url).status_code == 200
    before = (ApprovalRequest.objects.count(), AuditEvent.objects.count())
    cert, _ = client_ca.issue("webmail")
    data = {
        "username": "alice",
        "application": issued_app.application.pk,
        "end_user_ip": "203.0.113.9",
        "service_ip": "",
        "certificate_pem": pem(cert),
        "phase": "push",
    }
    page = admin_client.post(url, data)
    assert page.status_code == 200
    decision = page.context["result"].decision
    verdicts = {v.rule: (v.verdict.value, v.reason) for v in decision.verdicts}
    assert verdicts["client_certificate"] == ("pass", "certificate_valid")
    assert verdicts["user_network"] == ("fail", "user_network_not_allowed")
    assert (decision.outcome.value, decision.rule) == ("deny", "user_network")
    html = page.content.decode()
    assert "user_network_not_allowed" in html
    assert "certificate_valid" in html
    # Without a certificate the certificate rule fails too; still nothing is written.
    page = admin_client.post(url, {**data, "certificate_pem": "", "end_user_ip": "10.1.1.1"})
    assert page.context["result"].decision.reason == "certificate_missing"
    assert (ApprovalRequest.objects.count(), AuditEvent.objects.count()) == before


def test_policy_test_view__tenant_admin_sees_only_their_applications(client, tenant, issued_app, django_user_model):
    from approvals.services import application_create
    from tenants.models import TenantMembership
    from tenants.services import tenant_create

    other = application_create(tenant=tenant_create(name="Other", slug="other"), name="Foreign")
    staff = django_user_model.objects.create_user("ops", password="pw", is_staff=True)
    TenantMembership.objects.create(user=staff, tenant=tenant)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_policy"))
    client.force_login(staff)
    url = reverse("admin:policies_policy_test")
    page = client.post(url, {"username": "alice", "application": other.application.pk, "phase": "push"})
    assert page.status_code == 200
    assert page.context["result"] is None
    assert "application" in page.context["form"].errors
    mine = client.post(url, {"username": "alice", "application": issued_app.application.pk, "phase": "push"})
    assert mine.context["result"] is not None
