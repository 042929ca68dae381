"""Loading and enforcing: override vs default, callers without request facts, the web-client check."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from approvals.services import application_create
from audit.models import AuditEvent
from policies.exceptions import PolicyDeniedError
from policies.facts import RequestFacts
from policies.models import Policy
from policies.permissions import enforce_web_client
from policies.selectors import effective_policy
from policies.services import policy_enforce_evaluation
from tenants.services import tenant_create
from tests.policies.certs import escaped

pytestmark = pytest.mark.django_db


def test_effective_policy__application_override_replaces_the_tenant_default(tenant, issued_app, settings):
    app = issued_app.application
    assert effective_policy(application=app).rules.push_limit == settings.MFA_POLICY_PUSH_LIMIT  # built-in default
    Policy.objects.create(tenant=tenant, user_networks_deny="10.0.0.0/8", push_limit=9)
    assert (effective_policy(application=app).source, effective_policy(application=app).rules.push_limit) == (
        "tenant",
        9,
    )
    Policy.objects.create(tenant=tenant, application=app, push_limit=0)
    override = effective_policy(application=app)
    assert (override.source, override.rules.push_limit, override.rules.user_networks.deny) == ("application", 0, ())
    assert override.rules.cooldown_seconds == settings.MFA_POLICY_COOLDOWN_SECONDS  # empty field: the setting


def test_policy_clean__application_of_another_tenant_is_refused(tenant):
    foreign = application_create(tenant=tenant_create(name="Other", slug="other"), name="Foreign").application
    with pytest.raises(ValidationError) as caught:
        Policy(tenant=tenant, application=foreign).full_clean()
    assert "application" in caught.value.message_dict


def test_policy_enforce__caller_without_facts_uses_the_reported_ip(issued_app, phone, tenant):
    Policy.objects.create(tenant=tenant, user_networks_deny="203.0.113.0/24")
    with pytest.raises(PolicyDeniedError) as caught:
        policy_enforce_evaluation(
            application=issued_app.application, username="alice", facts=None, end_user_ip="203.0.113.4"
        )
    assert caught.value.extra == {"rule": "user_network", "reason": "user_network_denied"}
    decision = policy_enforce_evaluation(
        application=issued_app.application, username="alice", facts=None, end_user_ip="192.0.2.1"
    ).decision
    assert decision.allowed
    assert decision.rule == ""
    with pytest.raises(PolicyDeniedError):  # an explicit end-user IP in the facts wins over the fallback
        policy_enforce_evaluation(
            application=issued_app.application,
            username="alice",
            facts=RequestFacts(end_user_ip="203.0.113.9"),
            end_user_ip="192.0.2.1",
        )


def test_enforce_web_client__browser_network_and_certificate(tenant, subscriber, client_ca, settings):
    Policy.objects.create(
        tenant=tenant,
        user_networks_allow="192.0.2.0/24",
        client_cert_required=True,
        client_cert_binding="subscriber",
        client_cert_ca="uploaded",
        client_cert_ca_pem=client_ca.pem,
    )
    settings.MFA_TRUSTED_PROXIES = ["10.0.0.0/8"]
    alice, _ = client_ca.issue("alice")
    factory = RequestFactory()
    good = {
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_X_FORWARDED_FOR": "192.0.2.8",
        "HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS",
        "HTTP_X_SSL_CLIENT_CERT": escaped(alice),
    }
    enforce_web_client(factory.get("/", **good), tenant_id=tenant.pk, username="alice")
    with pytest.raises(PolicyDeniedError) as caught:
        enforce_web_client(
            factory.get("/", **{**good, "HTTP_X_FORWARDED_FOR": "198.51.100.1"}), tenant_id=tenant.pk, username="alice"
        )
    assert caught.value.extra == {"rule": "user_network", "reason": "user_network_not_allowed"}
    with pytest.raises(PolicyDeniedError) as caught:
        enforce_web_client(factory.get("/", **good), tenant_id=tenant.pk, username="bob")
    assert caught.value.extra["reason"] == "certificate_not_bound_to_subscriber"
    event = AuditEvent.objects.filter(kind="policy.refused").order_by("id").first()
    assert (event.actor, event.ip, event.detail["phase"]) == ("web", "198.51.100.1", "access")


def test_connection_permissions__without_an_authenticated_party_leave_it_to_authentication():
    from types import SimpleNamespace

    from policies.permissions import DeviceConnectionPermission, RelyingConnectionPermission

    anonymous = SimpleNamespace(user=None, META={})
    assert RelyingConnectionPermission().has_permission(anonymous, None) is True
    assert DeviceConnectionPermission().has_permission(anonymous, None) is True
