"""The hash-chained audit trail (verify_audit) and the operator's bootstrap commands (one JSON object each)."""

from __future__ import annotations

import io
import json
import time
from urllib.parse import urlencode, urlsplit

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client

from approvals.models import Application
from audit.models import AuditEvent
from devices.models import Enrollment
from devices.services import device_activate, enrollment_create
from mfa_server.crypto import decrypt_secret, encrypt_secret
from tenants.models import Subscriber, Tenant
from tests.helpers import PhoneDevice, SignedClient, db_text

pytestmark = pytest.mark.django_db


def _run(command: str, /, **options) -> dict:
    """Run a command; its stdout must be exactly one JSON object."""
    out = io.StringIO()
    call_command(command, stdout=out, **options)
    text = out.getvalue()
    assert text.count("\n") <= 1, text
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


# --- audit chain ---------------------------------------------------------------------------------


@pytest.fixture
def trail(relying, phone, tenant, no_push_fatigue) -> Tenant:
    """A realistic trail in two tenants: enrolment, transactions, decisions, refusals."""
    for n in range(3):
        created = relying.auth("alice", display_text=f"login {n}").json()
        phone.decide(created["txid"], "approve" if n != 1 else "deny", created["number"] if n != 1 else "")
    phone.decide(created["txid"], "deny")  # refused: already decided
    other = _run("create_tenant", name="Other Org")
    _run("enroll", tenant=other["slug"], username="zed")
    return tenant


def test_verify_audit__clean_trail__passes(trail):
    result = _run("verify_audit")
    assert result["ok"] is True
    assert result["breaks"] == []
    assert result["events_checked"] == AuditEvent.objects.count() > 10
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()  # it sealed everything first
    again = _run("verify_audit")
    assert (again["ok"], again["newly_sealed"], again["events_checked"]) == (True, 0, result["events_checked"])


def test_verify_audit__chains_are_per_tenant(trail):
    _run("verify_audit")
    for tenant_id in (trail.pk, Tenant.objects.get(slug="other-org").pk):
        seqs = list(AuditEvent.objects.filter(tenant_id=tenant_id).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))


def test_verify_audit__altered_row__fails_naming_tenant_and_seq(trail):
    _run("verify_audit")
    victim = AuditEvent.objects.filter(tenant=trail, kind="approval.denied").get()
    AuditEvent.objects.filter(pk=victim.pk).update(detail={"reason": "user_approve"})
    with pytest.raises(CommandError, match=rf"tenant={trail.pk} seq={victim.seq} event={victim.pk}: .*altered"):
        call_command("verify_audit", stdout=io.StringIO())


def test_verify_audit__events_sealed_later_stay_verifiable(trail, relying, phone):
    _run("verify_audit")
    relying.auth("alice", display_text="after the first seal")
    assert _run("verify_audit")["newly_sealed"] >= 1


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_verify_audit__deleted_row__detected(trail, which):
    _run("verify_audit")
    events = list(AuditEvent.objects.filter(tenant=trail).order_by("seq"))
    victim = {"first": events[0], "middle": events[len(events) // 2], "last": events[-1]}[which]
    AuditEvent.objects.filter(pk=victim.pk).delete()
    with pytest.raises(CommandError, match=rf"tenant={trail.pk} seq=") as raised:
        call_command("verify_audit", stdout=io.StringIO())
    # The link after the gap is named, with the sequence number that is missing (or the gap at the end).
    message = str(raised.value)
    if which == "last":
        assert f"seq={victim.seq} " in message
        assert "missing at the end" in message
    else:
        assert f"seq={victim.seq + 1} " in message
        assert f"expected seq {victim.seq}," in message


def test_verify_audit__reports_first_break_of_each_chain_as_json(trail):
    _run("verify_audit")
    victim = AuditEvent.objects.filter(tenant=trail).order_by("seq")[2]
    AuditEvent.objects.filter(pk=victim.pk).update(actor="someone else")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=out)
    result = json.loads(out.getvalue())
    assert result["ok"] is False
    assert [(b["tenant_id"], b["seq"], b["event_id"]) for b in result["breaks"]] == [(trail.pk, victim.seq, victim.pk)]


# --- bootstrap commands --------------------------------------------------------------------------


def test_commands__bootstrap_a_tenant_end_to_end(client):
    tenant = _run("create_tenant", name="Ministry of Examples", slug="moe")
    assert tenant["slug"] == "moe"
    assert Tenant.objects.filter(slug="moe").exists()

    app = _run("create_application", tenant="moe", name="VPN")
    assert set(app) == {"integration_key", "secret_key", "api_hostname"}
    assert app["api_hostname"] == "localhost"
    stored = Application.objects.get(integration_key=app["integration_key"])
    assert app["secret_key"] not in db_text()  # encrypted at rest
    assert decrypt_secret(stored.secret_encrypted) == app["secret_key"]
    relying = SignedClient(Client(), app["integration_key"], app["secret_key"])
    assert relying.request("GET", "/api/v1/check").status_code == 200

    enrolment = _run("enroll", tenant="moe", username="dora")
    assert set(enrolment) == {"activation_code", "activation_url", "qr_url", "expires_at"}
    assert Subscriber.objects.filter(tenant__slug="moe", username="dora").exists()
    assert enrolment["activation_code"] in enrolment["activation_url"]
    assert enrolment["activation_code"] not in enrolment["qr_url"]
    assert enrolment["activation_code"] not in db_text()

    qr = urlsplit(enrolment["qr_url"])
    svg = client.get(f"{qr.path}?{qr.query}")
    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content
    assert svg["Cache-Control"] == "no-store"


def test_enroll__existing_user_and_ttl(subscriber):
    first = _run("enroll", tenant="acme", username="alice", ttl=600)
    assert Subscriber.objects.filter(username="alice").count() == 1
    enrollment = Enrollment.objects.get()
    assert abs((enrollment.expires_at - enrollment.created_at).total_seconds() - 600) < 5
    assert first["expires_at"] == enrollment.expires_at.isoformat()


def test_qr__garbage_token__404(client):
    for query in ("t=garbage", "", "t=" + "A" * 200):
        response = client.get(f"/enroll/qr?{query}")
        assert response.status_code == 404
        assert b"<svg" not in response.content


def _qr_query(issued) -> str:
    return urlsplit(issued.qr_url).query


def test_qr__link_lives_exactly_as_long_as_its_code(client, subscriber, settings):
    short = enrollment_create(subscriber=subscriber, created_by="test", ttl_seconds=600)
    long = enrollment_create(
        subscriber=subscriber, created_by="test", ttl_seconds=settings.MFA_ACTIVATION_TTL_SECONDS + 3600
    )
    assert client.get(f"/enroll/qr?{_qr_query(short)}").status_code == 200

    with time_machine.travel(time.time() + 601):
        expired = client.get(f"/enroll/qr?{_qr_query(short)}")
    assert expired.status_code == 404
    assert expired.json()["code"] == "qr_token_invalid"
    with time_machine.travel(time.time() + settings.MFA_ACTIVATION_TTL_SECONDS + 5):
        assert client.get(f"/enroll/qr?{_qr_query(long)}").status_code == 200  # its own, longer ttl


def test_qr__used_code_or_no_enrolment__404(client, subscriber):
    issued = enrollment_create(subscriber=subscriber, created_by="test")
    _key, pem = PhoneDevice.new_key()
    device_activate(code=issued.activation_code, public_key_pem=pem, name="p", platform="test")
    assert client.get(f"/enroll/qr?{_qr_query(issued)}").status_code == 404
    orphan = urlencode({"t": encrypt_secret("ABCDEFGHJKLMNPQRSTUV")})
    assert client.get(f"/enroll/qr?{orphan}").status_code == 404


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("create_application", {"tenant": "nope", "name": "X"}),
        ("enroll", {"tenant": "nope", "username": "x"}),
        ("create_tenant", {"name": "Acme Bank", "slug": "acme"}),  # taken
        ("create_tenant", {"name": "!!!"}),  # no usable slug
    ],
)
def test_commands__bad_input__error_with_code_and_nothing_printed(tenant, name, options):
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(name, stdout=out, **options)
    assert json.loads(str(raised.value))["code"]
    assert out.getvalue() == ""
