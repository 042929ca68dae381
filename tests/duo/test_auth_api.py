"""Contract tests: Duo's unmodified ``duo_client.Auth`` against a live HTTPS server with a private CA."""

from __future__ import annotations

import hashlib
import json
import re
import struct
import time
from email.utils import formatdate
from typing import Any

import duo_client
import pytest

from approvals.models import ApprovalRequest
from approvals.signing import authorization_header, canonical_string, sign
from audit.models import AuditEvent
from devices.client import DeviceApiError
from policies.models import Policy
from tenants.models import Subscriber
from tests.duo.conftest import activate_device

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def _fail(exc: RuntimeError) -> tuple[int, dict[str, Any]]:
    """(HTTP status, parsed FAIL body) of the error duo_client raised."""
    return exc.status, exc.data  # type: ignore[attr-defined]  # duo_client sets these


def _enrolled(duo_auth: duo_client.Auth, duo_server: Any, username: str = "alice") -> Any:
    enrolled = duo_auth.enroll(username=username)
    return activate_device(duo_server, enrolled["activation_code"])


def test_ping__unsigned_and_signed__return_current_time(duo_auth, duo_server):
    assert abs(duo_auth.ping()["time"] - time.time()) < 5
    raw = duo_server.session().get(f"{duo_server.url}/auth/v2/ping")
    assert raw.status_code == 200
    assert raw.json()["stat"] == "OK"
    assert abs(raw.json()["response"]["time"] - time.time()) < 5


def test_check__valid_credentials__returns_time(duo_auth):
    assert abs(duo_auth.check()["time"] - time.time()) < 5


def test_check__wrong_secret__401_40103(duo_auth, duo_server, issued_app):
    bad = duo_client.Auth(
        ikey=issued_app.application.integration_key,
        skey="x" * 40,
        host=duo_server.host,
        port=duo_server.port,
        ca_certs=str(duo_server.ca_path),
    )
    with pytest.raises(RuntimeError, match="Received 401 Invalid signature in request credentials") as caught:
        bad.check()
    assert _fail(caught.value) == (
        401,
        {"stat": "FAIL", "code": 40103, "message": "Invalid signature in request credentials"},
    )


def test_check__unknown_integration_key__401_40102(duo_server, issued_app):
    unknown = duo_client.Auth(
        ikey="DI" + "X" * 18,
        skey=issued_app.secret_key,
        host=duo_server.host,
        port=duo_server.port,
        ca_certs=str(duo_server.ca_path),
    )
    with pytest.raises(RuntimeError) as caught:
        unknown.check()
    assert _fail(caught.value)[1]["code"] == 40102


def _raw_signed(duo_server, issued_app, method: str, path: str, body: dict[str, str] | None, *, date: str) -> Any:
    """A request signed exactly like duo_client 5.x (v5, JSON body) but with a chosen Date."""
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode() if body is not None else b""
    canonical = canonical_string(version=5, date=date, method=method, host="localhost", path=path, params=[], body=raw)
    headers = {
        "Date": date,
        "Authorization": authorization_header(
            issued_app.application.integration_key, sign(issued_app.secret_key, canonical)
        ),
        "Content-type": "application/json",
    }
    return duo_server.session().request(method, f"{duo_server.url}{path}", data=raw, headers=headers)


def test_check__stale_date__401_40105(duo_server, issued_app):
    stale = _raw_signed(duo_server, issued_app, "GET", "/auth/v2/check", None, date=formatdate(time.time() - 301))
    assert stale.status_code == 401
    assert stale.json() == {"stat": "FAIL", "code": 40105, "message": "Bad request timestamp"}
    fresh = _raw_signed(duo_server, issued_app, "GET", "/auth/v2/check", None, date=formatdate(time.time() - 200))
    assert fresh.status_code == 200, fresh.text


def test_logo__returns_png_in_brand_colour(duo_auth, tenant):
    png = duo_auth.logo()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", png[16:24]) == (64, 64)


def test_enroll__reference_device_activates__enroll_status_waiting_then_success(duo_auth, duo_server, tenant):
    enrolled = duo_auth.enroll(username="carol", valid_secs=600)
    subscriber = Subscriber.objects.get(tenant=tenant, username="carol")
    assert enrolled["username"] == "carol"
    assert enrolled["user_id"] == f"DU{subscriber.pk:018d}"
    assert enrolled["activation_url"].startswith(duo_server.url)
    assert enrolled["activation_barcode"].startswith(duo_server.url)
    assert 590 <= enrolled["expiration"] - time.time() <= 600
    assert duo_auth.enroll_status(enrolled["user_id"], enrolled["activation_code"]) == "waiting"
    device = activate_device(duo_server, enrolled["activation_url"])
    assert device.me()
    assert duo_auth.enroll_status(enrolled["user_id"], enrolled["activation_code"]) == "success"
    assert duo_auth.enroll_status(enrolled["user_id"], "WRONGCODE") == "invalid"
    generated = duo_auth.enroll()
    assert generated["username"].startswith("user-")
    assert generated["user_id"].startswith("DU")


def test_preauth__unknown_user__enroll(duo_auth):
    assert duo_auth.preauth(username="nobody")["result"] == "enroll"


def test_verified_push__approve_with_code_on_device__auth_status_allow(duo_auth, duo_server, issued_app):
    device = _enrolled(duo_auth, duo_server)
    pre = duo_auth.preauth(username="alice", ipaddr="192.0.2.1", client_supports_verified_push="1")
    assert pre["result"] == "auth"
    assert pre["status_msg"] == "Account is active"
    assert pre["devices"][0]["capabilities"][:2] == ["auto", "push"]
    assert set(pre["devices"][0]["capabilities"]) <= {"auto", "push", "sms", "mobile_otp"}
    assert len(pre["verification_code"]) == 3
    assert 55 <= pre["expiration"] - time.time() <= 60
    started = duo_auth.auth(
        "push",
        username="alice",
        async_txn=True,
        txid=pre["txid"],
        ipaddr="192.0.2.1",
        type="VPN",
        device=pre["devices"][0]["device"],
        pushinfo="Server=vpn1&Command=login",
        display_username="Alice",
    )
    assert started == {"txid": pre["txid"]}
    waiting = duo_auth.auth_status(started["txid"])
    assert waiting["waiting"] is True
    assert waiting["status"] == "pushed"
    assert pre["verification_code"] in waiting["status_msg"]
    pending = device.pending()
    assert [p["approval_id"] for p in pending] == [pre["txid"]]
    assert pending[0]["ip"] == "192.0.2.1"
    assert "Alice" in pending[0]["display_text"]
    assert "number" not in pending[0]
    device.decide(pre["txid"], "approve", pre["verification_code"])
    status = duo_auth.auth_status(started["txid"])
    assert (status["success"], status["waiting"], status["status"]) == (True, False, "allow")
    approval = ApprovalRequest.objects.get(pk=pre["txid"])
    assert (approval.status, approval.number, approval.application_id) == (
        "approved",
        pre["verification_code"],
        issued_app.application.pk,
    )
    assert AuditEvent.objects.filter(approval_id=approval.pk, kind="approval.approved").count() == 1
    with pytest.raises(RuntimeError) as reused:  # the offer is single-use
        duo_auth.auth("push", username="alice", async_txn=True, txid=pre["txid"])
    assert _fail(reused.value) == (
        400,
        {"stat": "FAIL", "code": 40002, "message": "Invalid request parameters", "message_detail": "txid"},
    )


def test_verified_push__deny_on_device__auth_status_deny_http_200(duo_auth, duo_server):
    device = _enrolled(duo_auth, duo_server)
    pre = duo_auth.preauth(username="alice", client_supports_verified_push="1")
    duo_auth.auth("auto", username="alice", async_txn=True, txid=pre["txid"])
    device.decide(pre["txid"], "deny")
    status = duo_auth.auth_status(pre["txid"])
    assert (status["success"], status["waiting"], status["status"], status["status_msg"]) == (
        False,
        False,
        "deny",
        "Login request denied.",
    )


def test_push__no_verified_push_and_policy_requires_numbers__40002_and_nothing_created(duo_auth, duo_server):
    _enrolled(duo_auth, duo_server)
    with pytest.raises(
        RuntimeError, match="Received 400 Invalid request parameters \\(verified push required"
    ) as caught:
        duo_auth.auth("push", username="alice", async_txn=True)
    assert _fail(caught.value)[1]["code"] == 40002
    assert ApprovalRequest.objects.count() == 0


def test_push__plain_push_allowed_by_policy__approved_without_number_and_audited_weaker(
    duo_auth, duo_server, issued_app
):
    Policy.objects.create(
        tenant=issued_app.application.tenant, application=issued_app.application, allow_plain_push=True
    )
    device = _enrolled(duo_auth, duo_server)
    pre = duo_auth.preauth(username="alice")
    assert "txid" not in pre
    assert "verification_code" not in pre
    txid = duo_auth.auth("push", username="alice", async_txn=True)["txid"]
    assert ApprovalRequest.objects.get(pk=txid).number == ""
    assert AuditEvent.objects.get(approval_id=txid, kind="approval.plain_push").detail["weaker"] is True
    device.decide(txid, "approve")
    assert duo_auth.auth_status(txid)["success"] is True


def test_push__synchronous__answers_with_decision(duo_auth, duo_server, issued_app):
    Policy.objects.create(
        tenant=issued_app.application.tenant, application=issued_app.application, number_matching=False
    )
    device = _enrolled(duo_auth, duo_server)
    import threading

    def approve_when_pushed() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pending = device.pending()
            if pending:
                device.decide(pending[0]["approval_id"], "approve")
                return
            time.sleep(0.1)

    approver = threading.Thread(target=approve_when_pushed)
    approver.start()
    result = duo_auth.auth("push", username="alice")
    approver.join()
    assert result == {"result": "allow", "status": "allow", "status_msg": "Success. Logging you in..."}
    assert not AuditEvent.objects.filter(kind="approval.plain_push").exists()  # the policy itself needs no number


def test_auth__identical_request_retried__same_transaction(duo_auth, duo_server, issued_app):
    Policy.objects.create(
        tenant=issued_app.application.tenant, application=issued_app.application, number_matching=False
    )
    _enrolled(duo_auth, duo_server)
    body = {"async": "1", "factor": "push", "username": "alice"}
    date = formatdate()
    first = _raw_signed(duo_server, issued_app, "POST", "/auth/v2/auth", body, date=date)
    again = _raw_signed(duo_server, issued_app, "POST", "/auth/v2/auth", body, date=date)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json()["response"]["txid"] == again.json()["response"]["txid"]
    assert ApprovalRequest.objects.count() == 1


def test_preauth__signature_v2_sha1_and_sha512_form_bodies__accepted(duo_server, issued_app, duo_auth):
    _enrolled(duo_auth, duo_server)
    for digestmod in (hashlib.sha1, hashlib.sha512):
        legacy = duo_client.Auth(
            ikey=issued_app.application.integration_key,
            skey=issued_app.secret_key,
            host=duo_server.host,
            port=duo_server.port,
            ca_certs=str(duo_server.ca_path),
            sig_version=2,
            digestmod=digestmod,
        )
        assert legacy.preauth(username="alice", ipaddr="192.0.2.1")["result"] == "auth"
        assert legacy.auth_status  # same client object works for the other calls


def test_auth_status__unknown_txid__400_40002(duo_auth):
    with pytest.raises(RuntimeError) as caught:
        duo_auth.auth_status("45f7c92b-f45f-4862-8545-e0f58e78075a")
    assert _fail(caught.value)[0] == 400
    assert _fail(caught.value)[1]["code"] == 40002


def test_auth__missing_factor__400_40001(duo_auth):
    with pytest.raises(RuntimeError) as caught:
        duo_auth.json_api_call("POST", "/auth/v2/auth", {"username": "alice"})
    assert _fail(caught.value) == (
        400,
        {"stat": "FAIL", "code": 40001, "message": "Missing required request parameters", "message_detail": "factor"},
    )


def test_preauth__disabled_user__deny(duo_auth, duo_server, tenant):
    _enrolled(duo_auth, duo_server, username="dave")
    Subscriber.objects.filter(tenant=tenant, username="dave").update(status=Subscriber.Status.DISABLED)
    assert duo_auth.preauth(username="dave")["result"] == "deny"
    with pytest.raises(RuntimeError):
        duo_auth.auth("push", username="dave", async_txn=True)


def test_device__reference_client_cannot_decide_twice(duo_auth, duo_server):
    device = _enrolled(duo_auth, duo_server)
    pre = duo_auth.preauth(username="alice", client_supports_verified_push="1")
    duo_auth.auth("push", username="alice", async_txn=True, txid=pre["txid"])
    device.decide(pre["txid"], "deny")
    with pytest.raises(DeviceApiError):
        device.decide(pre["txid"], "approve", pre["verification_code"])


# --- passcode and SMS (fallbacks) ------------------------------------------------------------------


def test_passcode__device_totp__allow_then_reuse_deny(duo_auth, duo_server, tenant):
    device = _enrolled(duo_auth, duo_server)
    assert duo_auth.preauth(username="alice")["devices"][0]["capabilities"] == ["auto", "push", "mobile_otp"]
    code = device.passcode()["passcode"]  # the reference client's RFC 6238 code, provisioned at activation
    allowed = duo_auth.auth("passcode", username="alice", passcode=code)
    assert allowed == {"result": "allow", "status": "allow", "status_msg": "Success. Logging you in..."}
    # a different request (an identical one in the same second would be a retry, answered the same)
    reused = duo_auth.auth("passcode", username="alice", passcode=code, ipaddr="192.0.2.9")
    assert reused == {"result": "deny", "status": "deny", "status_msg": "Incorrect passcode. Please try again."}
    assert list(ApprovalRequest.objects.order_by("created_at").values_list("factor", "status")) == [
        ("passcode", "approved"),
        ("passcode", "denied"),
    ]


def test_passcode__bypass_code__allow(duo_auth, duo_server, tenant):
    from fallbacks.services import bypass_codes_issue

    Policy.objects.create(tenant=tenant, factors=["push", "passcode", "bypass_code"])
    _enrolled(duo_auth, duo_server)
    code = bypass_codes_issue(subscriber=Subscriber.objects.get(tenant=tenant, username="alice"), actor="test")[0]
    assert duo_auth.auth("passcode", username="alice", passcode=code)["result"] == "allow"
    assert ApprovalRequest.objects.get().factor == "bypass_code"


def test_sms__code_texted_then_typed_as_passcode__allow(duo_auth, duo_server, tenant, settings):
    from fallbacks.services import phone_number_set
    from fallbacks.sms import locmem

    settings.MFA_SMS = {"BACKEND": "fallbacks.sms.locmem.LocmemSmsBackend", "OPTIONS": {}}
    locmem.outbox.clear()
    _enrolled(duo_auth, duo_server)
    phone_number_set(
        subscriber=Subscriber.objects.get(tenant=tenant, username="alice"), number="+14155550100", actor="t"
    )
    assert "sms" in duo_auth.preauth(username="alice")["devices"][0]["capabilities"]
    sent = duo_auth.auth("sms", username="alice")
    assert sent == {"result": "deny", "status": "sent", "status_msg": "New SMS passcodes sent."}
    assert [m.to for m in locmem.outbox] == ["+14155550100"]
    code = re.search(r"\d{6,8}", locmem.outbox[0].body).group(0)
    wrong = duo_auth.auth("passcode", username="alice", passcode="000000" if code != "000000" else "111111")
    assert wrong["result"] == "deny"
    assert duo_auth.auth("passcode", username="alice", passcode=code)["result"] == "allow"
    approval = ApprovalRequest.objects.get()
    assert (approval.factor, approval.status) == ("sms", "approved")


def test_sms__no_phone_number__400_40002(duo_auth, duo_server):
    _enrolled(duo_auth, duo_server)
    with pytest.raises(RuntimeError) as caught:
        duo_auth.auth("sms", username="alice")
    assert _fail(caught.value) == (
        400,
        {
            "stat": "FAIL",
            "code": 40002,
            "message": "Invalid request parameters",
            "message_detail": "factor_unavailable",
        },
    )


def test_policy__denied_network_from_ipaddr__preauth_deny_and_push_refused(duo_auth, duo_server, issued_app):
    Policy.objects.create(
        tenant=issued_app.application.tenant,
        application=issued_app.application,
        allow_plain_push=True,
        user_networks_deny="198.51.100.0/24",
    )
    _enrolled(duo_auth, duo_server)
    assert duo_auth.preauth(username="alice", ipaddr="198.51.100.7")["result"] == "deny"
    assert duo_auth.preauth(username="alice", ipaddr="192.0.2.7")["result"] == "auth"
    with pytest.raises(RuntimeError) as caught:
        duo_auth.auth("push", username="alice", async_txn=True, ipaddr="198.51.100.7")
    status, body = _fail(caught.value)
    assert (status, body["code"], body["message_detail"]) == (403, 40301, "policy_denied")
    assert ApprovalRequest.objects.count() == 0


def test_policy__relying_service_inside_its_networks__passcode_allowed(duo_auth, duo_server, issued_app):
    """The code factors see the same connection facts as push: a service inside its networks is not refused."""
    Policy.objects.create(
        tenant=issued_app.application.tenant,
        application=issued_app.application,
        service_networks_allow="127.0.0.0/8",
    )
    device = _enrolled(duo_auth, duo_server)

    allowed = duo_auth.auth("passcode", username="alice", passcode=device.passcode()["passcode"])

    assert allowed == {"result": "allow", "status": "allow", "status_msg": "Success. Logging you in..."}
    assert not AuditEvent.objects.filter(kind="policy.refused").exists()


def test_policy__relying_service_outside_its_networks__every_signed_endpoint_refused(duo_auth, issued_app):
    """The Duo surface applies the same connection locks as the native API (here: the service's source network)."""
    Policy.objects.create(
        tenant=issued_app.application.tenant,
        application=issued_app.application,
        service_networks_allow="192.0.2.0/24",
    )
    for call in (duo_auth.check, lambda: duo_auth.preauth(username="alice")):
        with pytest.raises(RuntimeError) as caught:
            call()
        status, body = _fail(caught.value)
        assert (status, body["code"], body["message_detail"]) == (403, 40301, "policy_denied")
    assert abs(duo_auth.ping()["time"] - time.time()) < 5  # unsigned liveness stays open
    assert AuditEvent.objects.filter(kind="policy.refused").count() == 2


def test_check__x_duo_date_only_like_duo_hmac__accepted(duo_server, issued_app):
    """duo_hmac sends X-Duo-Date and no Date, and includes x-duo-date in the v5 header hash."""
    date = formatdate()
    canonical = canonical_string(
        version=5,
        date=date,
        method="GET",
        host="localhost",
        path="/auth/v2/check",
        params=[],
        x_duo_headers={"x-duo-date": date},
    )
    headers = {
        "X-Duo-Date": date,
        "Authorization": authorization_header(
            issued_app.application.integration_key, sign(issued_app.secret_key, canonical)
        ),
    }
    response = duo_server.session().get(f"{duo_server.url}/auth/v2/check", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["stat"] == "OK"


def test_ping__bad_signature__still_answers(duo_server, issued_app):
    headers = {
        "Date": formatdate(),
        "Authorization": authorization_header(issued_app.application.integration_key, "0" * 128),
    }
    response = duo_server.session().get(f"{duo_server.url}/auth/v2/ping", headers=headers)
    assert response.status_code == 200
    assert response.json()["stat"] == "OK"


def test_auth__wrong_method__405_in_duo_envelope(duo_auth):
    with pytest.raises(RuntimeError) as caught:
        duo_auth.json_api_call("GET", "/auth/v2/auth", {})
    assert _fail(caught.value) == (405, {"stat": "FAIL", "code": 40501, "message": "Method not allowed"})


def test_auth__malformed_authorization__401_40101(duo_server):
    response = duo_server.session().get(
        f"{duo_server.url}/auth/v2/check", headers={"Date": formatdate(), "Authorization": "Bearer nope"}
    )
    assert response.status_code == 401
    assert response.json() == {"stat": "FAIL", "code": 40101, "message": "Missing request credentials"}


def test_native_push__visible_through_duo_auth_status(duo_auth, duo_server, issued_app):
    """Vice versa: a transaction started through our own relying API is polled through the Duo surface."""
    from approvals.services import LoginContext, approval_request_create

    device = _enrolled(duo_auth, duo_server)
    native = approval_request_create(
        application=issued_app.application, username="alice", context=LoginContext(ip="203.0.113.5")
    )
    assert duo_auth.auth_status(str(native.pk))["waiting"] is True
    device.decide(str(native.pk), "approve", native.number)
    assert duo_auth.auth_status(str(native.pk))["success"] is True
    kinds = list(AuditEvent.objects.filter(approval_id=native.pk).order_by("id").values_list("kind", flat=True))
    assert kinds == ["approval.created", "approval.approved"]


def test_verified_push__audited_like_a_native_push(duo_auth, duo_server, issued_app):
    _enrolled(duo_auth, duo_server)
    pre = duo_auth.preauth(username="alice", client_supports_verified_push="1")
    duo_auth.auth("push", username="alice", async_txn=True, txid=pre["txid"], ipaddr="192.0.2.3")
    created = AuditEvent.objects.get(approval_id=pre["txid"], kind="approval.created")
    assert created.actor == f"app:{issued_app.application.integration_key}"
    assert created.ip == "192.0.2.3"


def test_credentials__from_create_application_command__work_with_duo_client_and_secret_encrypted(duo_server, tenant):
    import io

    from django.core.management import call_command

    from approvals.models import Application

    out = io.StringIO()
    call_command("create_application", "--tenant", tenant.slug, "--name", "VPN", stdout=out)
    issued = json.loads(out.getvalue())
    assert issued["integration_key"].startswith("DI")
    assert len(issued["integration_key"]) == 20
    assert len(issued["secret_key"]) == 40
    assert issued["api_hostname"] == "localhost"
    client = duo_client.Auth(
        ikey=issued["integration_key"],
        skey=issued["secret_key"],
        host=issued["api_hostname"],
        port=duo_server.port,
        ca_certs=str(duo_server.ca_path),
    )
    assert client.check()["time"]
    stored = Application.objects.get(integration_key=issued["integration_key"]).secret_encrypted
    assert issued["secret_key"] not in stored


def test_sms__429_cooldown__duo_client_resends_identical_request_which_is_accepted(
    duo_auth, duo_server, tenant, settings, caplog
):
    """duo_client answers a 429 by sending the very same request (same Date and signature) after a back-off."""
    from fallbacks.services import phone_number_set
    from fallbacks.sms import locmem

    settings.MFA_SMS = {"BACKEND": "fallbacks.sms.locmem.LocmemSmsBackend", "OPTIONS": {}}
    settings.MFA_SMS_COOLDOWN_SECONDS = 2
    locmem.outbox.clear()
    _enrolled(duo_auth, duo_server)
    phone_number_set(
        subscriber=Subscriber.objects.get(tenant=tenant, username="alice"), number="+14155550100", actor="t"
    )
    assert duo_auth.auth("sms", username="alice")["status"] == "sent"
    started = time.monotonic()
    again = duo_auth.auth("sms", username="alice", ipaddr="192.0.2.4")  # 429 first, then the identical retry
    assert time.monotonic() - started >= 1  # it backed off: duo_client sleeps only after a 429
    refused = [r for r in caplog.records if r.name == "django.request" and getattr(r, "status_code", 0) == 429]
    assert refused  # one or two 429s (the cooldown may outlast the first back-off), then the same request passes
    assert {r.request.path for r in refused} == {"/auth/v2/auth"}
    assert again == {"result": "deny", "status": "sent", "status_msg": "New SMS passcodes sent."}
    assert len(locmem.outbox) == 2
    assert ApprovalRequest.objects.count() == 2


def test_bypass_user__preauth_allow_and_push_allowed_at_once(duo_auth, duo_server, tenant):
    _enrolled(duo_auth, duo_server)
    Subscriber.objects.filter(tenant=tenant, username="alice").update(status=Subscriber.Status.BYPASS)
    assert duo_auth.preauth(username="alice") == {"result": "allow", "status_msg": "Account is in bypass mode"}
    pre = duo_auth.preauth(username="alice", client_supports_verified_push="1")
    assert "txid" not in pre
    assert duo_auth.auth("push", username="alice") == {
        "result": "allow",
        "status": "bypass",
        "status_msg": "Bypass user. Logging you in...",
    }
    assert not AuditEvent.objects.filter(kind="approval.plain_push").exists()
