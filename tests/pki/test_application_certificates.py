"""Machine certificates: a relying service (``approvals.Application``) gets its own client certificate from the
tenant's built-in CA (CLI and admin), ``certificate_status`` names it as the holder, and the relying API's
client-certificate lock accepts it for that application only."""

from __future__ import annotations

import io
import json
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from approvals.models import ApprovalRequest
from approvals.services import application_create
from audit.models import AuditEvent
from pki import services
from pki.exceptions import HolderInvalidError
from pki.models import IssuedCertificate
from pki.selectors import certificate_status
from policies.models import Policy
from tenants.services import tenant_create
from tests.helpers import SignedClient
from tests.pki.conftest import make_csr, openssl_verify

pytestmark = pytest.mark.django_db


def issue_cli(tmp_path, *args: str) -> dict:
    _, csr = make_csr("ignored")
    (tmp_path / "req.pem").write_text(csr)
    out = io.StringIO()
    call_command("issue_cert", "--tenant", "acme", *args, "--csr", str(tmp_path / "req.pem"), stdout=out)
    return json.loads(out.getvalue())


def san_uris(pem: str) -> list[str]:
    cert = x509.load_pem_x509_certificate(pem.encode())
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier
    )


def test_issue_cert__application__san_holder_status_and_audit(tmp_path, tenant, issued_app, issuing):
    app = issued_app.application
    out = issue_cli(tmp_path, "--application", app.integration_key)
    assert out["san_uri"] == f"urn:mfa:acme:app:{app.integration_key}"
    issued = IssuedCertificate.objects.get(serial=out["serial"])
    assert (issued.application_id, issued.subscriber_id, issued.device_id) == (app.pk, None, None)
    assert san_uris(issued.certificate_pem) == [out["san_uri"]]
    assert f"CN=app {app.integration_key}" in issued.subject
    assert openssl_verify(tmp_path, issuing, issued.certificate_pem).returncode == 0

    valid, reason, holder = certificate_status(issued.certificate_pem, tenant=tenant)
    assert (valid, reason) == (True, "ok")
    assert holder.application == app
    assert holder.subscriber is None
    event = AuditEvent.objects.get(kind="pki.certificate_issued", detail__serial=issued.serial)
    assert event.detail["application"] == app.integration_key
    assert event.subscriber_id is None
    renewed = services.certificate_renew(certificate=issued, actor="test")
    assert renewed.application_id == app.pk
    assert renewed.san_uri == issued.san_uri


def test_issue_cert__application_errors__stable_codes(tmp_path, tenant, issued_app, subscriber, issuing):
    with pytest.raises(CommandError, match="not_found"):
        issue_cli(tmp_path, "--application", "DINOSUCHAPPLICATION")
    with pytest.raises(CommandError, match="--device goes with --username"):
        issue_cli(tmp_path, "--application", issued_app.application.integration_key, "--device", "1")
    with pytest.raises(CommandError):  # both holders at once: argparse refuses
        issue_cli(tmp_path, "--application", issued_app.application.integration_key, "--username", "alice")
    other = application_create(tenant=tenant_create(name="Other", slug="other"), name="Other app").application
    _, csr = make_csr()
    with pytest.raises(HolderInvalidError):
        services.certificate_issue_from_csr(tenant=tenant, subscriber=None, application=other, csr=csr)
    with pytest.raises(HolderInvalidError):
        services.certificate_issue_from_csr(
            tenant=tenant, subscriber=subscriber, application=issued_app.application, csr=csr
        )
    assert not IssuedCertificate.objects.exists()


def test_admin_issue_p12__application__downloads_application_bound_bundle(client, issued_app, issuing):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    app = issued_app.application
    url = "/admin/pki/issuedcertificate/issue-p12/"
    form = {"application": app.pk, "algorithm": "ec-p256", "password": "p12 password", "password_again": "p12 password"}
    response = client.post(url, form)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-pkcs12"
    _, cert, _ = pkcs12.load_key_and_certificates(response.content, b"p12 password")
    issued = IssuedCertificate.objects.get()
    assert issued.serial == format(cert.serial_number, "X")
    assert issued.application_id == app.pk
    assert issued.san_uri == f"urn:mfa:acme:app:{app.integration_key}"
    neither = client.post(url, {**form, "application": ""})
    assert neither.status_code == 200  # the form again: a subscriber or an application is required
    assert "exactly one" in neither.content.decode()
    assert IssuedCertificate.objects.count() == 1


def _relying(issued, *, cert_pem: str) -> SignedClient:
    meta = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS"}
    meta["HTTP_X_SSL_CLIENT_CERT"] = quote(cert_pem, safe="")  # nginx $ssl_client_escaped_cert
    return SignedClient(Client(**meta), issued.application.integration_key, issued.secret_key)


def test_relying_api__application_bound_certificate__accepted_for_it_refused_for_another(
    tmp_path, tenant, issued_app, phone, issuing, settings
):
    settings.MFA_TRUSTED_PROXIES = ["127.0.0.1/32"]
    Policy.objects.create(tenant=tenant, client_cert_required=True, client_cert_ca="builtin")
    other = application_create(tenant=tenant, name="Intranet")
    mine = issue_cli(tmp_path, "--application", issued_app.application.integration_key)
    pem = IssuedCertificate.objects.get(serial=mine["serial"]).certificate_pem

    assert _relying(issued_app, cert_pem=pem).auth("alice").status_code == 201
    refused = _relying(other, cert_pem=pem).auth("alice")
    assert refused.status_code == 403
    assert refused.json()["code"] == "policy_denied"
    assert refused.json()["fields"] == {"rule": "client_certificate", "reason": "certificate_not_bound_to_application"}
    preauth = _relying(other, cert_pem=pem).request("POST", "/api/v1/preauth", body={"username": "alice"})
    assert preauth.status_code == 403
    assert preauth.json()["fields"]["reason"] == "certificate_not_bound_to_application"
    assert ApprovalRequest.objects.filter(application=other.application).count() == 0
    assert ApprovalRequest.objects.filter(application=issued_app.application).count() == 1
    refusals = AuditEvent.objects.filter(kind="policy.refused", actor=f"app:{other.application.integration_key}")
    assert [e.detail["reason"] for e in refusals] == ["certificate_not_bound_to_application"] * 2

    # The other application's own certificate works for it.
    theirs = issue_cli(tmp_path, "--application", other.application.integration_key)
    pem_theirs = IssuedCertificate.objects.get(serial=theirs["serial"]).certificate_pem
    assert _relying(other, cert_pem=pem_theirs).auth("alice").status_code == 201


def test_policy_test_view__application_bound_certificate__judged_as_for_that_application(
    tmp_path, client, tenant, issued_app, issuing
):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    Policy.objects.create(tenant=tenant, client_cert_required=True, client_cert_ca="builtin")
    other = application_create(tenant=tenant, name="Intranet").application
    mine = issue_cli(tmp_path, "--application", issued_app.application.integration_key)
    data = {
        "username": "alice",
        "application": issued_app.application.pk,
        "end_user_ip": "",
        "service_ip": "",
        "certificate_pem": IssuedCertificate.objects.get(serial=mine["serial"]).certificate_pem,
        "phase": "preauth",
    }

    def verdict(application) -> tuple[str, str]:
        page = client.post("/admin/policies/policy/test/", {**data, "application": application.pk})
        assert page.status_code == 200
        verdicts = {v.rule: (v.verdict.value, v.reason) for v in page.context["result"].decision.verdicts}
        return verdicts["client_certificate"]

    assert verdict(issued_app.application) == ("pass", "certificate_valid")
    assert verdict(other) == ("fail", "certificate_not_bound_to_application")
