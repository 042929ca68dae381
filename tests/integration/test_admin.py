"""Django admin: every page opens, tenant admins see only their tenant, actions work, records stay read-only."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from approvals.models import Application, ApprovalRequest
from approvals.services import application_create
from audit.models import AuditEvent
from devices.models import Device, Enrollment
from tenants.models import Subscriber, Tenant, TenantMembership
from tenants.services import subscriber_get_or_create, tenant_create
from tests.conftest import make_device
from tests.helpers import SignedClient
from tests.integration.conftest import assert_problem

pytestmark = pytest.mark.django_db

SCOPED_APPS = ("tenants", "approvals", "devices", "audit", "policies")


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _action(client: Client, model, action: str, objects):
    return client.post(
        _url(model, "changelist"), {"action": action, "_selected_action": [str(obj.pk) for obj in objects]}
    )


@pytest.fixture
def world(relying, phone, tenant):
    """Two tenants, each with an application, a subscriber with a device, a transaction and audit events."""
    relying.auth("alice", display_text="Acme login")
    other = tenant_create(name="Globex Corp", slug="globex")
    issued = application_create(tenant=other, name="Globex VPN")
    zed = subscriber_get_or_create(tenant=other, username="zed-globex")
    make_device(zed, name="Zed phone")
    SignedClient(Client(), issued.application.integration_key, issued.secret_key).auth("zed-globex")
    return {"acme": tenant, "globex": other}


@pytest.fixture
def superuser_client(world) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.org", "pw"))
    return client


@pytest.fixture
def acme_admin(world) -> Client:
    """A staff user who belongs to the Acme tenant, with every permission of the product's apps."""
    user = User.objects.create_user("acme-admin", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=SCOPED_APPS))
    TenantMembership.objects.create(user=user, tenant=world["acme"])
    client = Client()
    client.force_login(user)
    return client


# --- superuser -----------------------------------------------------------------------------------


def test_superuser__every_changelist_and_change_page_opens(superuser_client):
    assert superuser_client.get(reverse("admin:index")).status_code == 200
    for model, model_admin in admin.site._registry.items():
        response = superuser_client.get(_url(model, "changelist"))
        assert response.status_code == 200, model
        obj = model_admin.get_queryset(response.wsgi_request).first()
        if obj is not None:
            assert superuser_client.get(_url(model, "change", obj.pk)).status_code == 200, model
        if model_admin.has_add_permission(response.wsgi_request):
            assert superuser_client.get(_url(model, "add")).status_code == 200, model


def test_superuser__search_and_filters_work(superuser_client, world):
    ApprovalRequest.objects.filter(application__tenant=world["globex"]).update(status="denied")  # one of two
    for model, query, expected in (
        (Subscriber, "?q=alice", lambda row: row.username == "alice"),
        (ApprovalRequest, "?status__exact=pending", lambda row: row.status == "pending"),
        (AuditEvent, "?kind__exact=approval.created", lambda row: row.kind == "approval.created"),
        (Device, "?q=zed", lambda row: row.name == "Zed phone"),
    ):
        response = superuser_client.get(_url(model, "changelist") + query)
        assert response.status_code == 200, model
        changelist = response.context["cl"]
        assert changelist.result_count < model.objects.count(), model  # the search or filter narrowed it
        assert changelist.result_count > 0, model
        assert all(expected(row) for row in changelist.result_list), model


# --- tenant admins -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "mine", "theirs"),
    [
        (Subscriber, "alice", "zed-globex"),
        (Device, "Alice phone", "Zed phone"),
        (Application, "Webmail", "Globex VPN"),
        (ApprovalRequest, "acme", "globex"),
        (AuditEvent, "acme", "globex"),
        (Tenant, "Acme Bank", "Globex Corp"),
    ],
)
def test_tenant_admin__sees_only_their_tenant(acme_admin, world, model, mine, theirs):
    response = acme_admin.get(_url(model, "changelist"))
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown
    tenant_of = {
        Subscriber: lambda o: o.tenant,
        Device: lambda o: o.subscriber.tenant,
        Application: lambda o: o.tenant,
        ApprovalRequest: lambda o: o.application.tenant,
        AuditEvent: lambda o: o.tenant,
        Tenant: lambda o: o,
    }[model]
    assert {tenant_of(obj) for obj in shown} == {world["acme"]}
    html = response.content.decode()
    assert "Globex" not in html
    assert "zed-globex" not in html


def test_tenant_admin__other_tenants_objects_cannot_be_opened_or_changed(acme_admin, world):
    zed = Subscriber.objects.get(username="zed-globex")
    response = acme_admin.get(_url(Subscriber, "change", zed.pk))
    assert response.status_code == 302  # "does not exist" redirect, as for any missing object
    _action(acme_admin, Subscriber, "disable", [zed])
    assert Subscriber.objects.get(pk=zed.pk).status == "active"
    globex_app = Application.objects.get(name="Globex VPN")
    response = _action(acme_admin, Application, "rotate_secret", [globex_app])
    assert "Secret key" not in response.content.decode()
    assert Application.objects.get(pk=globex_app.pk).secret_encrypted == globex_app.secret_encrypted


def test_tenant_admin__tenant_choices_limited_to_their_tenant(acme_admin, world):
    response = acme_admin.get(_url(Application, "add"))
    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields["tenant"].queryset) == [world["acme"]]


# --- actions -------------------------------------------------------------------------------------


def test_rotate_secret__old_secret_stops_new_one_works(superuser_client, issued_app, relying):
    assert relying.request("GET", "/api/v1/check").status_code == 200
    response = _action(superuser_client, Application, "rotate_secret", [issued_app.application])
    assert response.status_code == 200
    items = dict(response.context["items"])
    assert items["Integration key"] == issued_app.application.integration_key
    new_secret = items["Secret key"]
    assert new_secret != issued_app.secret_key
    assert_problem(relying.request("GET", "/api/v1/check"), 401, "signature_invalid")
    rotated = SignedClient(Client(), issued_app.application.integration_key, new_secret)
    assert rotated.request("GET", "/api/v1/check").status_code == 200
    assert AuditEvent.objects.filter(kind="application.secret_rotated", actor="admin:root").count() == 1


def test_add_application__shows_credentials_once(superuser_client, tenant):
    response = superuser_client.post(
        _url(Application, "add"),
        {"tenant": tenant.pk, "name": "SSO", "callback_url": "", "approval_timeout_seconds": 45, "is_active": "on"},
    )
    assert response.status_code == 200, response.content[:2000]
    items = dict(response.context["items"])
    application = Application.objects.get(name="SSO")
    assert (items["Integration key"], application.approval_timeout_seconds) == (application.integration_key, 45)
    sso = SignedClient(Client(), application.integration_key, items["Secret key"])
    assert sso.request("GET", "/api/v1/check").status_code == 200


def test_rename_device__through_the_change_form(superuser_client, phone):
    page = superuser_client.get(_url(Device, "change", phone.device_id))
    data = {"name": "Work phone"}
    for inline in page.context["inline_admin_formsets"]:  # e.g. read-only credentials: management form only
        management = inline.formset.management_form
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
    response = superuser_client.post(_url(Device, "change", phone.device_id), data)
    assert response.status_code == 302, response.content[:2000]
    assert Device.objects.get(pk=phone.device_id).name == "Work phone"
    assert phone.get("me").json()["name"] == "Work phone"


def test_bypass_subscriber__auth_allowed_without_a_push(superuser_client, relying, subscriber):
    _action(superuser_client, Subscriber, "bypass", [subscriber])
    assert relying.request("POST", "/api/v1/preauth", body={"username": "alice"}).json()["result"] == "allow"
    assert relying.auth("alice").json()["result"] == "allow"


def test_revoke_device__device_refused_afterwards(superuser_client, relying, phone):
    device = Device.objects.get(pk=phone.device_id)
    response = _action(superuser_client, Device, "revoke", [device])
    assert response.status_code == 302
    assert Device.objects.get(pk=device.pk).status == "revoked"
    assert_problem(phone.get("approvals"), 401, "device_revoked")
    assert AuditEvent.objects.filter(kind="device.revoked", actor="admin:root").count() == 1


def test_disable_subscriber__preauth_denies(superuser_client, relying, phone, subscriber):
    _action(superuser_client, Subscriber, "disable", [subscriber])
    assert Subscriber.objects.get(pk=subscriber.pk).status == "disabled"
    answer = relying.request("POST", "/api/v1/preauth", body={"username": "alice"}).json()
    assert (answer["result"], answer["reason"]) == ("deny", "disabled")
    _action(superuser_client, Subscriber, "activate", [subscriber])
    assert relying.request("POST", "/api/v1/preauth", body={"username": "alice"}).json()["result"] == "auth"
    assert [e.detail for e in AuditEvent.objects.filter(kind="subscriber.status_changed").order_by("id")] == [
        {"from": "active", "to": "disabled"},
        {"from": "disabled", "to": "active"},
    ]


def test_issue_enrolment__page_shows_code_and_qr_and_the_code_activates(superuser_client, subscriber, client):
    response = _action(superuser_client, Subscriber, "issue_enrollment", [subscriber])
    assert response.status_code == 200
    items = dict(response.context["items"])
    code = items["Activation code"]
    html = response.content.decode()
    assert code in html
    assert "<svg" in html
    from tests.helpers import PhoneDevice

    activated = client.post(
        "/api/v1/device/activate",
        {"code": code, "public_key": PhoneDevice.new_key()[1], "name": "New phone"},
        content_type="application/json",
    )
    assert activated.status_code == 201


def test_expire_enrolment__code_refused(superuser_client, subscriber, client):
    from devices.services import enrollment_create
    from tests.helpers import PhoneDevice

    issued = enrollment_create(subscriber=subscriber, created_by="test")
    _action(superuser_client, Enrollment, "expire", [issued.enrollment])
    response = client.post(
        "/api/v1/device/activate",
        {"code": issued.activation_code, "public_key": PhoneDevice.new_key()[1], "name": "Late phone"},
        content_type="application/json",
    )
    assert_problem(response, 400, "activation_code_invalid")


# --- read-only records ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", [ApprovalRequest, AuditEvent])
def test_approvals_and_audit__read_only(superuser_client, world, model):
    obj = model.objects.first()
    assert superuser_client.get(_url(model, "add")).status_code == 403
    page = superuser_client.get(_url(model, "change", obj.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    before = {f.name: getattr(obj, f.attname) for f in model._meta.concrete_fields}
    assert superuser_client.post(_url(model, "change", obj.pk), {"status": "approved", "kind": "x"}).status_code == 403
    assert superuser_client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    _action(superuser_client, model, "delete_selected", [obj])
    obj.refresh_from_db()
    assert {f.name: getattr(obj, f.attname) for f in model._meta.concrete_fields} == before
    changelist = superuser_client.get(_url(model, "changelist"))
    assert "delete_selected" not in changelist.content.decode()
