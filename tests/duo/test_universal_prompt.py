"""Contract tests: Duo's unmodified ``duo_universal.Client`` (Universal Prompt / OIDC) against the live HTTPS server.

The browser leg is played with ``requests`` (cookies, CSRF token, following our redirects); the push is
approved or denied by the reference device client.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duo_universal
import jwt
import pytest
import requests
from django.utils import timezone

from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from duo.models import PromptSession, RedirectUri
from policies.models import Policy
from tests.duo.conftest import activate_device

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


@pytest.fixture
def universal(duo_server, issued_app, redirect_uri) -> duo_universal.Client:
    return duo_universal.Client(
        issued_app.application.integration_key,
        issued_app.secret_key,
        f"{duo_server.host}:{duo_server.port}",
        redirect_uri,
        duo_certs=str(duo_server.ca_path),
    )


@pytest.fixture
def alice_phone(duo_auth, duo_server) -> Any:
    return activate_device(duo_server, duo_auth.enroll(username="alice")["activation_code"])


class Browser:
    """A browser without JavaScript: keeps cookies, submits our forms, follows only our own redirects."""

    def __init__(self, duo_server: Any) -> None:
        self.server, self.http = duo_server, duo_server.session()

    def open(self, url: str) -> requests.Response:
        response = self.http.get(url, allow_redirects=False)
        while response.status_code in (302, 303) and response.headers["Location"].startswith("/"):
            url = self.server.url + response.headers["Location"]
            response = self.http.get(url, allow_redirects=False)
        self.url = url
        return response

    def submit(self, page: requests.Response, action: str, **fields: str) -> requests.Response:
        """Submit the page's form whose action ends with ``/action``; follow our redirect (or return the page)."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        path = re.search(rf'<form method="post" action="([^"]+/{action})"', page.text).group(1)
        posted = self.http.post(
            self.server.url + path,
            data={"csrfmiddlewaretoken": token, **fields},
            headers={"Referer": self.url},
            allow_redirects=False,
        )
        if posted.status_code != 303:
            return posted
        return self.open(self.server.url + posted.headers["Location"])

    def send_push(self, page: requests.Response) -> requests.Response:
        return self.submit(page, "push")


def _login_until_push(universal, duo_server, username: str = "alice") -> tuple[Browser, requests.Response, str]:
    state = universal.generate_state()
    browser = Browser(duo_server)
    page = browser.open(universal.create_auth_url(username, state))
    assert page.status_code == 200, page.text[:500]
    assert "Acme Bank" in page.text
    assert f'id="username">{username}<' in page.text
    assert not re.findall(r"<script(?![^>]*\bsrc=)", page.text)  # no inline script
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    return browser, browser.send_push(page), state


def test_health_check__valid_assertion__ok(universal):
    result = universal.health_check()
    assert result["stat"] == "OK"
    assert abs(result["response"]["timestamp"] - time.time()) < 5


def test_health_check__wrong_secret__invalid_client(duo_server, issued_app, redirect_uri):
    wrong = duo_universal.Client(
        issued_app.application.integration_key,
        "y" * 40,
        f"{duo_server.host}:{duo_server.port}",
        redirect_uri,
        duo_certs=str(duo_server.ca_path),
    )
    with pytest.raises(duo_universal.DuoException):
        wrong.health_check()


def test_prompt__push_approved_with_number__code_exchanged_for_id_token(universal, duo_server, alice_phone, issued_app):
    browser, page, state = _login_until_push(universal, duo_server)
    number = re.search(r'id="number">(\d+)<', page.text).group(1)
    assert '<meta http-equiv="refresh"' in page.text
    pending = alice_phone.pending()
    assert len(pending) == 1
    txid = pending[0]["approval_id"]
    alice_phone.decide(txid, "approve", number)

    done = browser.open(browser.url)
    assert done.status_code == 302
    callback = urlsplit(done.headers["Location"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == "https://app.example.test/duo-callback"
    query = parse_qs(callback.query)
    assert query["state"] == [state]
    code = query["duo_code"][0]

    token = universal.exchange_authorization_code_for_2fa_result(code, "alice")
    assert token["preferred_username"] == "alice"
    assert token["aud"] == issued_app.application.integration_key
    assert token["iss"] == f"https://localhost:{duo_server.port}/oauth/v1/token"
    assert token["auth_result"] == {"result": "allow", "status": "allow", "status_msg": "Login Successful"}
    assert token["auth_context"]["txid"] == txid
    assert token["auth_context"]["factor"] == "duo_push"
    assert ApprovalRequest.objects.get(pk=txid).status == "approved"
    assert AuditEvent.objects.filter(approval_id=txid, kind="duo.code_exchanged").count() == 1

    with pytest.raises(duo_universal.DuoException):  # single use
        universal.exchange_authorization_code_for_2fa_result(code, "alice")
    assert browser.open(browser.url).status_code == 409  # a second visit never yields a second code


def test_prompt__nonce__round_trips_and_wrong_username_rejected(universal, duo_server, alice_phone):
    nonce = "n" * 40
    state = universal.generate_state()
    browser = Browser(duo_server)
    page = browser.send_push(browser.open(universal.create_auth_url("alice", state) + f"&nonce={nonce}"))
    number = re.search(r'id="number">(\d+)<', page.text).group(1)
    alice_phone.decide(alice_phone.pending()[0]["approval_id"], "approve", number)
    code = parse_qs(urlsplit(browser.open(browser.url).headers["Location"]).query)["duo_code"][0]
    with pytest.raises(duo_universal.DuoException, match="username"):
        universal.exchange_authorization_code_for_2fa_result(code, "ALICE", nonce=nonce)
    # the code was consumed by that exchange (the library checks the username only after it)
    with pytest.raises(duo_universal.DuoException):
        universal.exchange_authorization_code_for_2fa_result(code, "alice", nonce=nonce)


def test_prompt__push_denied__no_code_and_back_link_is_access_denied(universal, duo_server, alice_phone):
    browser, page, state = _login_until_push(universal, duo_server)
    alice_phone.decide(alice_phone.pending()[0]["approval_id"], "deny")
    failed = browser.open(browser.url)
    assert failed.status_code == 200
    assert 'id="failed"' in failed.text
    assert "duo_code" not in failed.text
    back = re.search(r'id="back" href="([^"]+)"|href="([^"]+)" id="back"', failed.text)
    link = (back.group(1) or back.group(2)).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query) == {
        "error": ["access_denied"],
        "error_description": ["The login was not approved."],
        "state": [state],
    }
    assert PromptSession.objects.get().code_hash is None


def test_prompt__other_browser__refused(universal, duo_server, alice_phone):
    browser, _, _ = _login_until_push(universal, duo_server)
    stranger = Browser(duo_server)
    assert stranger.open(browser.url).status_code == 403


def test_authorize__unregistered_redirect_uri__error_page_without_redirect(duo_server, issued_app):
    evil = duo_universal.Client(
        issued_app.application.integration_key,
        issued_app.secret_key,
        f"{duo_server.host}:{duo_server.port}",
        "https://evil.example.test/cb",
        duo_certs=str(duo_server.ca_path),
    )
    page = Browser(duo_server).open(evil.create_auth_url("alice", evil.generate_state()))
    assert page.status_code == 400
    assert "redirect_uri is not registered" in page.text
    assert PromptSession.objects.count() == 0


def test_authorize__request_signed_with_wrong_secret__error_page(duo_server, issued_app, redirect_uri):
    forged = duo_universal.Client(
        issued_app.application.integration_key,
        "z" * 40,
        f"{duo_server.host}:{duo_server.port}",
        redirect_uri,
        duo_certs=str(duo_server.ca_path),
    )
    page = Browser(duo_server).open(forged.create_auth_url("alice", forged.generate_state()))
    assert page.status_code == 400
    assert PromptSession.objects.count() == 0


def _assertion(issued_app, aud: str, **extra: Any) -> str:
    ikey = issued_app.application.integration_key
    claims = {"iss": ikey, "sub": ikey, "aud": aud, "exp": time.time() + 300, "jti": "j" * 36, **extra}
    return jwt.encode(claims, issued_app.secret_key, algorithm="HS512")


def test_token__multipart_body_like_php_sdk__accepted_and_assertion_single_use(
    universal, duo_server, alice_phone, issued_app, redirect_uri
):
    browser, page, _ = _login_until_push(universal, duo_server)
    number = re.search(r'id="number">(\d+)<', page.text).group(1)
    alice_phone.decide(alice_phone.pending()[0]["approval_id"], "approve", number)
    code = parse_qs(urlsplit(browser.open(browser.url).headers["Location"]).query)["duo_code"][0]
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": issued_app.application.integration_key,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": _assertion(issued_app, f"https://localhost:{duo_server.port}/oauth/v1/token"),
    }
    http = duo_server.session()
    response = http.post(f"{duo_server.url}/oauth/v1/token", files={k: (None, v) for k, v in fields.items()})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"]
    claims = jwt.decode(
        body["id_token"], issued_app.secret_key, algorithms=["HS512"], audience=issued_app.application.integration_key
    )
    assert claims["preferred_username"] == "alice"
    again = http.post(f"{duo_server.url}/oauth/v1/token", data=fields)  # form body, same assertion and code
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"


def test_prompt__device_passcode__code_issued_and_factor_in_id_token(universal, duo_server, alice_phone):
    state = universal.generate_state()
    browser = Browser(duo_server)
    page = browser.open(universal.create_auth_url("alice", state))
    assert 'id="passcode"' in page.text
    wrong = browser.submit(page, "passcode", passcode="000000")
    assert wrong.status_code == 200
    assert "Incorrect passcode" in wrong.text
    done = browser.submit(wrong, "passcode", passcode=alice_phone.passcode()["passcode"])
    assert done.status_code == 302
    code = parse_qs(urlsplit(done.headers["Location"]).query)["duo_code"][0]
    token = universal.exchange_authorization_code_for_2fa_result(code, "alice")
    assert (token["auth_context"]["factor"], token["auth_context"]["reason"]) == ("passcode", "valid_passcode")


def test_prompt__device_passcode_inside_the_policy_networks__accepted(universal, duo_server, alice_phone, issued_app):
    """The passcode form sees the browser connection's facts, as the push does (no fail-closed refusal)."""
    Policy.objects.create(
        tenant=issued_app.application.tenant, application=issued_app.application, service_networks_allow="127.0.0.0/8"
    )
    browser = Browser(duo_server)
    page = browser.open(universal.create_auth_url("alice", universal.generate_state()))

    done = browser.submit(page, "passcode", passcode=alice_phone.passcode()["passcode"])

    assert done.status_code == 302, done.text[:500]
    assert "duo_code=" in done.headers["Location"]
    assert not AuditEvent.objects.filter(kind="policy.refused").exists()


def test_prompt__sms_code__code_issued(universal, duo_server, alice_phone, tenant, settings):
    from fallbacks.services import phone_number_set
    from fallbacks.sms import locmem
    from tenants.models import Subscriber

    settings.MFA_SMS = {"BACKEND": "fallbacks.sms.locmem.LocmemSmsBackend", "OPTIONS": {}}
    locmem.outbox.clear()
    subscriber = Subscriber.objects.get(tenant=tenant, username="alice")
    phone_number_set(subscriber=subscriber, number="+14155550100", actor="test")
    browser = Browser(duo_server)
    page = browser.open(universal.create_auth_url("alice", universal.generate_state()))
    texted = browser.submit(page, "sms")
    assert 'id="sms-sent"' in texted.text
    sms_code = re.search(r"\d{6,8}", locmem.outbox[0].body).group(0)
    done = browser.submit(texted, "passcode", passcode=sms_code)
    assert done.status_code == 302
    code = parse_qs(urlsplit(done.headers["Location"]).query)["duo_code"][0]
    token = universal.exchange_authorization_code_for_2fa_result(code, "alice")
    assert token["auth_context"]["factor"] == "sms_passcode"


def test_prompt__unknown_user__told_to_enroll_and_no_push(universal, duo_server):
    browser = Browser(duo_server)
    page = browser.open(universal.create_auth_url("nobody", universal.generate_state()))
    assert 'id="enroll"' in page.text
    assert 'id="send-push"' not in page.text
    assert ApprovalRequest.objects.count() == 0


def _approved_code(universal, duo_server, alice_phone, **auth_url_extra: str) -> tuple[str, str]:
    state = universal.generate_state()
    browser = Browser(duo_server)
    page = browser.send_push(browser.open(universal.create_auth_url("alice", state)))
    number = re.search(r'id="number">(\d+)<', page.text).group(1)
    alice_phone.decide(alice_phone.pending()[0]["approval_id"], "approve", number)
    return browser.open(browser.url).headers["Location"], state


def test_token__form_body_like_go_sdk__accepted(universal, duo_server, alice_phone, issued_app, redirect_uri):
    location, _ = _approved_code(universal, duo_server, alice_phone)
    code = parse_qs(urlsplit(location).query)["duo_code"][0]
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": issued_app.application.integration_key,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": _assertion(issued_app, f"https://LOCALHOST:{duo_server.port}/oauth/v1/token"),
    }
    response = duo_server.session().post(f"{duo_server.url}/oauth/v1/token", data=fields)
    assert response.status_code == 200, response.text
    claims = jwt.decode(
        response.json()["id_token"],
        issued_app.secret_key,
        algorithms=["HS512"],
        audience=issued_app.application.integration_key,
        issuer=f"https://LOCALHOST:{duo_server.port}/oauth/v1/token",  # the client's own spelling
    )
    assert isinstance(claims["iat"], int)
    assert isinstance(claims["exp"], int)


def test_token__expired_code__invalid_grant(universal, duo_server, alice_phone):
    location, _ = _approved_code(universal, duo_server, alice_phone)
    PromptSession.objects.update(code_expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(duo_universal.DuoException, match="invalid_grant"):
        universal.exchange_authorization_code_for_2fa_result(parse_qs(urlsplit(location).query)["duo_code"][0], "alice")


def test_token__wrong_redirect_uri__invalid_grant(duo_server, alice_phone, issued_app, redirect_uri, universal):
    location, _ = _approved_code(universal, duo_server, alice_phone)
    RedirectUri.objects.create(application=issued_app.application, uri="https://other.example.test/cb")
    other = duo_universal.Client(
        issued_app.application.integration_key,
        issued_app.secret_key,
        f"{duo_server.host}:{duo_server.port}",
        "https://other.example.test/cb",
        duo_certs=str(duo_server.ca_path),
    )
    with pytest.raises(duo_universal.DuoException, match="invalid_grant"):
        other.exchange_authorization_code_for_2fa_result(parse_qs(urlsplit(location).query)["duo_code"][0], "alice")


def test_prompt__use_duo_code_attribute_false__code_parameter(duo_server, alice_phone, issued_app, redirect_uri):
    classic = duo_universal.Client(
        issued_app.application.integration_key,
        issued_app.secret_key,
        f"{duo_server.host}:{duo_server.port}",
        redirect_uri,
        duo_certs=str(duo_server.ca_path),
        use_duo_code_attribute=False,
    )
    location, state = _approved_code(classic, duo_server, alice_phone)
    query = parse_qs(urlsplit(location).query)
    assert set(query) == {"code", "state"}
    assert (
        classic.exchange_authorization_code_for_2fa_result(query["code"][0], "alice")["preferred_username"] == "alice"
    )


def test_prompt__fraud_report__no_code(universal, duo_server, alice_phone):
    browser, _, _ = _login_until_push(universal, duo_server)
    alice_phone.decide(alice_phone.pending()[0]["approval_id"], "fraud")
    page = browser.open(browser.url)
    assert page.status_code == 200
    assert "reported as fraudulent" in page.text
    assert PromptSession.objects.get().code_hash is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"state": "s" * 15}, "state must be 16 to 1024"),
        ({"state": "s" * 1025}, "state must be 16 to 1024"),
        ({"exp": -10}, "invalid or expired"),
        ({"aud": "https://elsewhere.example.test"}, "another audience"),
        ({"iss": "DI" + "Z" * 18}, "not issued by this client"),
        ({"scope": "profile"}, "scope openid"),
        ({"duo_uname": ""}, "duo_uname must be"),
        ({"redirect_uri": "https://app.example.test/other"}, "not registered"),
    ],
)
def test_authorize__invalid_request_jwt__error_page_and_nothing_stored(
    duo_server, issued_app, redirect_uri, change, message
):
    ikey = issued_app.application.integration_key
    claims = {
        "scope": "openid",
        "redirect_uri": redirect_uri,
        "client_id": ikey,
        "iss": ikey,
        "aud": f"https://localhost:{duo_server.port}",
        "exp": time.time() + 300,
        "state": "s" * 36,
        "response_type": "code",
        "duo_uname": "alice",
        "use_duo_code_attribute": True,
        **change,
    }
    if "exp" in change:
        claims["exp"] = time.time() - 120
    request_jwt = jwt.encode(claims, issued_app.secret_key, algorithm="HS512")
    url = f"{duo_server.url}/oauth/v1/authorize?response_type=code&client_id={ikey}&request={request_jwt}"
    page = Browser(duo_server).open(url)
    assert page.status_code == 400
    assert message in page.text
    assert "Location" not in page.headers
    assert PromptSession.objects.count() == 0


def test_health_check__multipart_like_php_and_replayed_assertion_refused(duo_server, issued_app):
    fields = {
        "client_id": issued_app.application.integration_key,
        "client_assertion": _assertion(issued_app, f"https://localhost:{duo_server.port}/oauth/v1/health_check"),
    }
    http = duo_server.session()
    first = http.post(f"{duo_server.url}/oauth/v1/health_check", files={k: (None, v) for k, v in fields.items()})
    assert first.status_code == 200
    assert first.json()["stat"] == "OK"
    again = http.post(f"{duo_server.url}/oauth/v1/health_check", data=fields)
    assert again.json()["stat"] == "FAIL"
    assert again.json()["message"] == "invalid_client"


def test_prompt__another_method_while_push_waits__push_cancelled_then_passcode(universal, duo_server, alice_phone):
    browser, page, _ = _login_until_push(universal, duo_server)
    push_txid = alice_phone.pending()[0]["approval_id"]
    assert 'id="passcode"' not in page.text  # while the push waits the page refreshes: no typing there
    options = browser.submit(page, "cancel")
    assert ApprovalRequest.objects.get(pk=push_txid).status == "cancelled"
    assert alice_phone.pending() == []
    assert 'id="failed"' not in options.text
    assert '<meta http-equiv="refresh"' not in options.text
    done = browser.submit(options, "passcode", passcode=alice_phone.passcode()["passcode"])
    assert done.status_code == 302
    assert "duo_code=" in done.headers["Location"]


def test_prompt__bypass_user__continue_yields_code_marked_bypass(universal, duo_server, alice_phone, tenant):
    from tenants.models import Subscriber

    Subscriber.objects.filter(tenant=tenant, username="alice").update(status=Subscriber.Status.BYPASS)
    browser = Browser(duo_server)
    page = browser.open(universal.create_auth_url("alice", universal.generate_state()))
    assert ">Continue<" in page.text
    done = browser.send_push(page)
    assert done.status_code == 302
    assert alice_phone.pending() == []  # nobody was asked
    token = universal.exchange_authorization_code_for_2fa_result(
        parse_qs(urlsplit(done.headers["Location"]).query)["duo_code"][0], "alice"
    )
    assert token["auth_context"]["reason"] == "bypass_user"


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"[]", b'"txid"', b"42", b"not json"])
def test_prompt_passkey__body_not_a_json_object__400_invalid_input(client, body):
    response = client.post(
        "/oauth/v1/prompt/00000000-0000-0000-0000-000000000000/passkey", data=body, content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert response.json() == {"code": "invalid_input", "detail": "txid and credential are required."}
