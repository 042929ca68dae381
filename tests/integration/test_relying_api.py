"""The relying-service API: request signatures, timestamps, replays, input validation and preauth."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.test import Client

from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from policies.models import Policy
from tenants.models import Subscriber
from tests.integration.conftest import assert_problem, http_date, relying_call, row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def creds(issued_app) -> dict[str, str]:
    return {"ikey": issued_app.application.integration_key, "skey": issued_app.secret_key}


# --- signatures ----------------------------------------------------------------------------------


def test_check__v5_sha512_signature__accepted(client, creds):
    response = relying_call(client, **creds, params={"probe": "a b/c"})
    assert response.status_code == 200, response.content
    assert response.json()["application"] == "Webmail"


def test_check__v5_signed_with_x_duo_date__accepted(client, creds):
    response = relying_call(client, **creds, x_duo_date=True)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("digestmod", ["sha1", "sha512"])
def test_check__duo_v2_signature_with_form_body__accepted(client, creds, digestmod):
    response = relying_call(
        client,
        **creds,
        method="POST",
        form={"username": "alice smith", "factor": "push"},
        version=2,
        digestmod=digestmod,
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("digestmod", ["sha1", "sha512"])
def test_check__duo_v2_get_with_query__accepted(client, creds, digestmod):
    response = relying_call(client, **creds, params={"a": "1", "b": "x y"}, version=2, digestmod=digestmod)
    assert response.status_code == 200, response.content


def test_preauth__duo_v2_form_body__answers(client, creds, phone):
    response = relying_call(
        client, **creds, method="POST", path="/api/v1/preauth", form={"username": "alice"}, version=2
    )
    assert response.status_code == 200, response.content
    assert response.json()["result"] == "auth"


def test_preauth__duo_v2_form_changed_after_signing__refused(client, creds, phone):
    from approvals.signing import authorization_header, canonical_string, sign

    date = http_date()
    canonical = canonical_string(
        version=2, date=date, method="POST", host="localhost", path="/api/v1/preauth", params=[("username", "alice")]
    )
    response = client.post(
        "/api/v1/preauth",
        "username=mallory",
        content_type="application/x-www-form-urlencoded",
        HTTP_DATE=date,
        HTTP_HOST="localhost",
        HTTP_AUTHORIZATION=authorization_header(creds["ikey"], sign(creds["skey"], canonical)),
    )
    assert_problem(response, 401, "signature_invalid")


def test_preauth__v5_signature_never_leaves_a_form_body_unsigned(client, creds, phone):
    """v5 hashes the raw body whatever its content type: a form body cannot ride on an empty-body signature."""
    from approvals.signing import authorization_header, canonical_string, sign

    date = http_date()
    canonical = canonical_string(
        version=5, date=date, method="POST", host="localhost", path="/api/v1/preauth", params=[], body=b""
    )
    response = client.post(
        "/api/v1/preauth",
        "username=alice",
        content_type="application/x-www-form-urlencoded",
        HTTP_DATE=date,
        HTTP_HOST="localhost",
        HTTP_AUTHORIZATION=authorization_header(creds["ikey"], sign(creds["skey"], canonical)),
    )
    assert_problem(response, 401, "signature_invalid")


def test_check__sha1_with_v5_canonical__refused(client, creds):
    """HMAC-SHA1 exists only for signature v2; a SHA1 signature over the v5 string is not accepted."""
    assert_problem(relying_call(client, **creds, digestmod="sha1"), 401, "signature_invalid")


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"skey": "x" * 40}, id="wrong-secret"),
        pytest.param({"ikey": "DINOSUCHAPPLICATION0"}, id="unknown-ikey"),
        pytest.param({"sign_path": "/api/v1/other"}, id="wrong-path"),
        pytest.param(
            {
                "method": "POST",
                "path": "/api/v1/preauth",
                "body": {"username": "bob"},
                "sign_body": b'{"username": "alice"}',
            },
            id="tampered-body",
        ),
        pytest.param({"sign_host": "evil.example"}, id="other-host"),
    ],
)
def test_relying_call__bad_signature__401_signature_invalid(client, creds, tamper):
    before = row_counts()
    response = relying_call(client, **{**creds, **tamper})
    assert_problem(response, 401, "signature_invalid")
    assert response["WWW-Authenticate"].startswith("Basic")
    assert row_counts() == before


def test_relying_call__tampered_query__refused(client, creds):
    response = relying_call(client, **creds, params={"wait": "0"})
    assert response.status_code == 200
    # Same headers, other query string: a man in the middle cannot change parameters.
    headers = {
        "HTTP_AUTHORIZATION": response.wsgi_request.META["HTTP_AUTHORIZATION"],
        "HTTP_DATE": response.wsgi_request.META["HTTP_DATE"],
        "HTTP_HOST": "localhost",
    }
    assert_problem(Client().get("/api/v1/check?wait=30", **headers), 401, "signature_invalid")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param({"offset": -310}, id="stale"),
        pytest.param({"offset": +310}, id="future"),
        pytest.param({"omit_date": True}, id="missing"),
        pytest.param({"date": "yesterday-ish"}, id="garbage"),
        pytest.param({"date": "Mon, 30 Nov 2026 25:61:00 -0000"}, id="impossible-time"),
        pytest.param({"date": "Mon, 30 Nov 99999 10:00:00 -0000"}, id="year-99999"),
        pytest.param({"date": "Mon, 30 Nov 2026 10:00:00 +9999"}, id="absurd-offset"),
    ],
)
def test_relying_call__bad_timestamp__401_timestamp_invalid(client, creds, phone, case):
    if "offset" in case:
        case = {"date": http_date(case.pop("offset"))}
    before = row_counts()
    response = relying_call(client, **creds, method="POST", path="/api/v1/auth", body={"username": "alice"}, **case)
    assert_problem(response, 401, "timestamp_invalid")
    assert row_counts() == before


def test_relying_call__timestamp_within_skew__accepted(client, creds):
    assert relying_call(client, **creds, date=http_date(-290)).status_code == 200
    assert relying_call(client, **creds, date=http_date(+290)).status_code == 200


def test_relying_call__missing_or_malformed_authorization__401(client):
    assert_problem(client.get("/api/v1/check", HTTP_DATE=http_date()), 401, "signature_invalid")
    assert_problem(
        client.get("/api/v1/check", HTTP_DATE=http_date(), HTTP_AUTHORIZATION="Basic !!!"), 401, "signature_invalid"
    )
    assert_problem(
        client.get("/api/v1/check", HTTP_DATE=http_date(), HTTP_AUTHORIZATION="Bearer abc"), 401, "signature_invalid"
    )


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png"])
def test_api__any_accept_header__answered_in_json(client, accept):
    """One representation: an ``Accept`` the API cannot meet changes nothing (no 406, no HTML)."""
    assert_problem(client.get("/api/v1/check", HTTP_DATE=http_date(), HTTP_ACCEPT=accept), 401, "signature_invalid")


def test_relying_call__inactive_application__refused(client, creds, issued_app):
    issued_app.application.is_active = False
    issued_app.application.save(update_fields=["is_active"])
    assert_problem(relying_call(client, **creds), 401, "signature_invalid")


# --- replays -------------------------------------------------------------------------------------


def test_auth__identical_signed_request_replayed__same_txid_and_one_transaction(client, creds, phone, push_outbox):
    call = {"method": "POST", "path": "/api/v1/auth", "body": {"username": "alice", "async": True}, "date": http_date()}
    first = relying_call(client, **creds, **call)
    assert first.status_code == 201, first.content
    replayed = relying_call(client, **creds, **call)
    assert replayed.status_code in (200, 201)
    assert replayed.json()["txid"] == first.json()["txid"]
    assert replayed.json()["number"] == first.json()["number"]
    assert ApprovalRequest.objects.count() == 1
    assert AuditEvent.objects.filter(kind="approval.created").count() == 1


def test_auth__replay_after_decision__returns_the_decided_transaction(client, creds, phone):
    call = {"method": "POST", "path": "/api/v1/auth", "body": {"username": "alice"}, "date": http_date()}
    created = relying_call(client, **creds, **call).json()
    assert phone.decide(created["txid"], "approve", created["number"]).status_code == 200
    replayed = relying_call(client, **creds, **call)
    assert replayed.status_code == 200
    assert (replayed.json()["txid"], replayed.json()["result"]) == (created["txid"], "allow")
    assert ApprovalRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "fresh_refusal"),
    [("push_limit_reached", (429, "push_rate_limited")), ("user_disabled", (403, "subscriber_denied"))],
)
def test_auth__replay_after_the_policy_or_user_changed__returns_the_original_and_records_no_refusal(
    client, creds, issued_app, phone, change, fresh_refusal
):
    call = {"method": "POST", "path": "/api/v1/auth", "body": {"username": "alice"}, "date": http_date()}
    created = relying_call(client, **creds, **call).json()
    if change == "push_limit_reached":  # the original push is the one the limit allows
        Policy.objects.create(tenant=issued_app.application.tenant, push_limit=1, push_window_seconds=300)
    else:
        Subscriber.objects.filter(username="alice").update(status=Subscriber.Status.DISABLED)
    replayed = relying_call(client, **creds, **call)
    assert replayed.status_code in (200, 201), replayed.content
    assert replayed.json()["txid"] == created["txid"]
    assert ApprovalRequest.objects.count() == 1
    assert not AuditEvent.objects.filter(kind="policy.refused").exists()
    fresh = relying_call(client, **creds, **{**call, "date": http_date(1)})  # not a replay: refused
    assert_problem(fresh, *fresh_refusal)
    # A policy's refusal of a fresh login is still recorded; a blocked user's is not a policy refusal.
    assert AuditEvent.objects.filter(kind="policy.refused").count() == (change == "push_limit_reached")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor == "sqlite", reason="needs a database serving concurrent connections")
def test_auth__identical_signed_request_replayed_concurrently__one_transaction(issued_app, phone):
    from tests.helpers import run_together

    date = http_date()
    creds = {"ikey": issued_app.application.integration_key, "skey": issued_app.secret_key}
    call = {"method": "POST", "path": "/api/v1/auth", "body": {"username": "alice"}, "date": date}
    results = run_together([lambda: relying_call(Client(), **creds, **call)] * 6)
    assert all(not isinstance(r, Exception) and r.status_code in (200, 201) for r in results), results
    assert len({r.json()["txid"] for r in results}) == 1
    assert ApprovalRequest.objects.count() == 1
    assert AuditEvent.objects.filter(kind="approval.created").count() == 1


def test_auth__same_body_new_date__is_a_new_transaction(client, creds, phone):
    body = {"username": "alice"}
    first = relying_call(client, **creds, method="POST", path="/api/v1/auth", body=body, date=http_date(-1))
    second = relying_call(client, **creds, method="POST", path="/api/v1/auth", body=body, date=http_date())
    assert first.json()["txid"] != second.json()["txid"]
    assert ApprovalRequest.objects.count() == 2


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"raw_body": b'{"username": "alice",'}, id="broken-json"),
        pytest.param({"raw_body": b'["alice"]'}, id="json-list"),
        pytest.param({"raw_body": b"\xff\xfe"}, id="not-utf8"),
        pytest.param({"body": {"username": "alice", "context": {"ip": "999.1.2.3"}}}, id="invalid-ip"),
        pytest.param({"body": {"username": "alice", "factor": "carrier-pigeon"}}, id="unknown-factor"),
        pytest.param({"body": {"username": "alice", "context": "nope"}}, id="context-not-object"),
        pytest.param({"body": {"username": "alice", "async": "maybe"}}, id="async-not-bool"),
        pytest.param({"body": {"username": ""}}, id="empty-username"),
        pytest.param({"body": {"username": "a" * 151}}, id="long-username"),
        pytest.param({"body": {"username": "ali\u0000ce"}}, id="nul-in-username"),
        pytest.param({"body": {}}, id="no-username"),
        pytest.param({"body": {"username": "alice", "context": {"display_text": "x" * 201}}}, id="long-text"),
    ],
)
def test_auth__bad_input__400_invalid_input_and_nothing_created(client, creds, phone, payload):
    before = row_counts()
    response = relying_call(client, **creds, method="POST", path="/api/v1/auth", **payload)
    assert_problem(response, 400, "invalid_input")
    assert row_counts() == before


def test_auth__field_errors__named_in_problem(client, creds, phone):
    response = relying_call(
        client,
        **creds,
        method="POST",
        path="/api/v1/auth",
        body={"username": "alice", "factor": "sms", "context": {"ip": "not-an-ip"}},
    )
    body = assert_problem(response, 400, "invalid_input")
    assert set(body["fields"]) == {"factor", "context"}
    assert "ip" in body["fields"]["context"]


@pytest.mark.parametrize("query", ["wait=abc", "wait=-1", "wait=61"])
def test_status__bad_wait__400_invalid_input(client, creds, relying, phone, query):
    txid = relying.auth("alice").json()["txid"]
    key, value = query.split("=")
    response = relying_call(client, **creds, path=f"/api/v1/auth/{txid}", params={key: value})
    assert_problem(response, 400, "invalid_input")


def test_status__unknown_or_malformed_txid__404_problem(client, creds):
    assert_problem(
        relying_call(client, **creds, path="/api/v1/auth/00000000-0000-4000-8000-000000000000"),
        404,
        "approval_not_found",
    )
    assert_problem(relying_call(client, **creds, path="/api/v1/auth/not-a-uuid"), 404, "not_found")


def test_status__other_applications_transaction__404(client, relying, phone, tenant):
    from approvals.services import application_create

    txid = relying.auth("alice").json()["txid"]
    other = application_create(tenant=tenant, name="VPN")
    response = relying_call(
        client, ikey=other.application.integration_key, skey=other.secret_key, path=f"/api/v1/auth/{txid}"
    )
    assert_problem(response, 404, "approval_not_found")


def test_auth__wrong_method__405_problem(client, creds):
    assert_problem(relying_call(client, **creds, path="/api/v1/auth"), 405, "method_not_allowed")


def test_auth__unknown_user__403_enrollment_required(client, creds):
    before = row_counts()
    response = relying_call(client, **creds, method="POST", path="/api/v1/auth", body={"username": "mallory"})
    assert_problem(response, 403, "enrollment_required")
    assert row_counts() == before


# --- preauth -------------------------------------------------------------------------------------


def _preauth(client, creds, username):
    response = relying_call(client, **creds, method="POST", path="/api/v1/preauth", body={"username": username})
    assert response.status_code == 200, response.content
    return response.json()


def test_preauth__unknown_user__enroll(client, creds):
    assert _preauth(client, creds, "nobody") == {
        "result": "enroll",
        "reason": "unknown_user",
        "devices": [],
        "factors": [],
    }


def test_preauth__known_user_without_device__enroll(client, creds, subscriber):
    assert _preauth(client, creds, "alice")["result"] == "enroll"


def test_preauth__bypass__allow(client, creds, subscriber):
    Subscriber.objects.filter(pk=subscriber.pk).update(status=Subscriber.Status.BYPASS)
    assert _preauth(client, creds, "alice")["result"] == "allow"


@pytest.mark.parametrize("status", [Subscriber.Status.DISABLED, Subscriber.Status.LOCKED])
def test_preauth__disabled_or_locked__deny(client, creds, phone, subscriber, status):
    Subscriber.objects.filter(pk=subscriber.pk).update(status=status)
    answer = _preauth(client, creds, "alice")
    assert (answer["result"], answer["reason"]) == ("deny", status)
    assert_problem(
        relying_call(client, **creds, method="POST", path="/api/v1/auth", body={"username": "alice"}),
        403,
        "subscriber_denied",
    )


def test_preauth__active_with_device__auth_with_devices_and_factors(client, creds, phone):
    answer = _preauth(client, creds, "alice")
    assert answer == {
        "result": "auth",
        "reason": "second_factor_required",
        "devices": [
            {
                "device_id": phone.device_id,
                "name": "Alice phone",
                "platform": "test",
                "capabilities": ["push", "session_code"],
            }
        ],
        "factors": ["push", "session_code"],
    }


def test_preauth__revoked_device__not_listed(client, creds, phone, subscriber):
    from devices.models import Device
    from devices.services import device_revoke

    device_revoke(device=Device.objects.get(pk=phone.device_id), actor="test")
    assert _preauth(client, creds, "alice")["result"] == "enroll"


def test_preauth__other_tenants_user__unknown(client, creds, phone):
    from tenants.services import subscriber_get_or_create, tenant_create

    subscriber_get_or_create(tenant=tenant_create(name="Other"), username="carol")
    assert _preauth(client, creds, "carol")["result"] == "enroll"


def test_preauth__bypass_then_auth__allowed_at_once(client, creds, subscriber):
    Subscriber.objects.filter(pk=subscriber.pk).update(status=Subscriber.Status.BYPASS)
    response = relying_call(client, **creds, method="POST", path="/api/v1/auth", body={"username": "alice"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["result"]) == ("approved", "allow")
    assert AuditEvent.objects.filter(kind="approval.bypassed").count() == 1


def test_preauth__query_count(client, creds, phone, django_assert_num_queries):
    # application 1, effective policy 1, the policy's facts 1 (the subscriber with its active devices; push
    # fatigue facts only before a push, known networks only with the new-device rule), fallback factors 2.
    # Preauth goes on with the subscriber and devices the facts loaded.
    with django_assert_num_queries(5):
        _preauth(client, creds, "alice")


def test_status_poll__query_count(client, creds, relying, phone, django_assert_num_queries):
    txid = relying.auth("alice").json()["txid"]
    # application, effective policy (for the connection locks), transaction; with Redis the first two
    # come from the process's configuration cache (mfa_server/config_cache.py)
    with django_assert_num_queries(1 if os.environ.get("REDIS_URL") else 3):
        response = relying_call(client, **creds, path=f"/api/v1/auth/{txid}")
    assert response.json()["status"] == "pending"
