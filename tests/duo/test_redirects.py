"""Registering Universal Prompt redirect URIs: management command and Django admin."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from duo.models import RedirectUri

pytestmark = pytest.mark.django_db


def _run(*args: str) -> dict:
    out = io.StringIO()
    call_command("duo_redirect_uri", *args, stdout=out)
    return json.loads(out.getvalue())


def test_duo_redirect_uri_command__add_list_remove(issued_app):
    ikey = issued_app.application.integration_key
    added = _run("add", ikey, "https://vpn.example.test/duo/callback")
    assert added == {"client_id": ikey, "redirect_uris": ["https://vpn.example.test/duo/callback"]}
    assert _run("add", ikey, "https://vpn.example.test/duo/callback")["redirect_uris"] == [
        "https://vpn.example.test/duo/callback"
    ]
    assert AuditEvent.objects.filter(kind="duo.redirect_uri_added").count() == 1
    assert _run("remove", ikey, "https://vpn.example.test/duo/callback")["redirect_uris"] == []
    assert AuditEvent.objects.filter(kind="duo.redirect_uri_removed").count() == 1


@pytest.mark.parametrize(
    "uri", ["http://vpn.example.test/cb", "https://vpn.example.test/cb#frag", "/relative", "https://x/" + "a" * 260]
)
def test_duo_redirect_uri_command__invalid_uri__refused_and_nothing_stored(issued_app, uri):
    with pytest.raises(CommandError, match="redirect_uri_invalid"):
        _run("add", issued_app.application.integration_key, uri)
    assert RedirectUri.objects.count() == 0


def test_duo_redirect_uri_command__unknown_application__refused():
    with pytest.raises(CommandError, match="application_not_found"):
        _run("list", "DI" + "0" * 18)


def test_admin__superuser_adds_redirect_uri__stored_and_audited(client, issued_app):
    admin_user = User.objects.create_superuser("root", "root@example.test", "pw")
    client.force_login(admin_user)
    assert client.get("/admin/duo/redirecturi/").status_code == 200
    response = client.post(
        "/admin/duo/redirecturi/add/",
        {"application": issued_app.application.pk, "uri": "https://sso.example.test/cb"},
    )
    assert response.status_code == 302, response.content[:500]
    assert RedirectUri.objects.get().uri == "https://sso.example.test/cb"
    assert AuditEvent.objects.get(kind="duo.redirect_uri_added").actor == "admin:root"
    refused = client.post("/admin/duo/redirecturi/add/", {"application": issued_app.application.pk, "uri": "ftp://x"})
    assert refused.status_code == 200
    assert RedirectUri.objects.count() == 1


def test_admin__changed_and_deleted_redirect_uris__audited_as_removed(client, issued_app):
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    app = issued_app.application
    first = RedirectUri.objects.create(application=app, uri="https://sso.example.test/cb")

    changed = client.post(
        f"/admin/duo/redirecturi/{first.pk}/change/", {"application": app.pk, "uri": "https://evil.example.test/cb"}
    )
    assert changed.status_code == 302, changed.content[:500]
    unchanged = client.post(
        f"/admin/duo/redirecturi/{first.pk}/change/", {"application": app.pk, "uri": "https://evil.example.test/cb"}
    )
    assert unchanged.status_code == 302
    deleted = client.post(
        "/admin/duo/redirecturi/",
        {"action": "delete_selected", "_selected_action": [first.pk], "post": "yes"},
    )
    assert deleted.status_code == 302

    assert not RedirectUri.objects.exists()
    events = AuditEvent.objects.filter(kind__startswith="duo.redirect_uri").order_by("id")
    assert [(e.kind, e.detail["uri"], e.actor) for e in events] == [
        ("duo.redirect_uri_removed", "https://sso.example.test/cb", "admin:root"),
        ("duo.redirect_uri_added", "https://evil.example.test/cb", "admin:root"),
        ("duo.redirect_uri_removed", "https://evil.example.test/cb", "admin:root"),
    ]
