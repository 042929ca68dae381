"""Admin pages and actions, management commands and the device enrolment API."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from devices.proofs import sign_payload
from pki import services
from pki.models import CertificateAuthority, IssuedCertificate
from tenants.models import Subscriber, TenantMembership
from tenants.services import tenant_create
from tests.pki.conftest import make_csr, openssl_verify


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def issued(tenant, subscriber, issuing) -> IssuedCertificate:
    _, csr = make_csr()
    return services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr)


def test_admin_pages__load_for_a_superuser(admin_client, issued, issuing):
    for url in [
        "/admin/pki/certificateauthority/",
        f"/admin/pki/certificateauthority/{issuing.pk}/change/",
        "/admin/pki/certificateauthority/add/",
        "/admin/pki/certificateauthority/import/",
        "/admin/pki/issuedcertificate/",
        f"/admin/pki/issuedcertificate/{issued.pk}/change/",
        "/admin/pki/issuedcertificate/add/",
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
    listing = admin_client.get("/admin/pki/issuedcertificate/").content.decode()
    assert issued.serial in listing
    assert "alice" in listing
    ca_page = admin_client.get(f"/admin/pki/certificateauthority/{issuing.pk}/change/").content.decode()
    assert "gAAAAA" not in ca_page  # the encrypted key is not even shown


def test_admin_issue_from_csr__creates_certificate(admin_client, subscriber, issuing):
    _, csr = make_csr()
    response = admin_client.post(
        "/admin/pki/issuedcertificate/add/", {"subscriber": subscriber.pk, "csr": csr, "validity_days": 30}
    )
    assert response.status_code == 302
    issued = IssuedCertificate.objects.get()
    assert issued.created_by == "admin:root"
    bad = admin_client.post("/admin/pki/issuedcertificate/add/", {"subscriber": subscriber.pk, "csr": "nope"})
    assert bad.status_code == 200
    assert "cannot be parsed" in bad.content.decode()
    assert IssuedCertificate.objects.count() == 1


def test_admin_issue_p12__download_once_opens_with_password(admin_client, subscriber, issuing):
    url = "/admin/pki/issuedcertificate/issue-p12/"
    assert admin_client.get(url).status_code == 200
    form = {"subscriber": subscriber.pk, "algorithm": "ec-p256", "password": "p12 password", "password_again": "x"}
    assert admin_client.post(url, form).status_code == 200  # passwords differ
    assert not IssuedCertificate.objects.exists()
    response = admin_client.post(url, {**form, "password_again": "p12 password"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-pkcs12"
    assert "no-store" in response["Cache-Control"]
    key, cert, _ = pkcs12.load_key_and_certificates(response.content, b"p12 password")
    assert format(cert.serial_number, "X") == IssuedCertificate.objects.get().serial


def test_admin_create_ca__post_creates_hierarchy(admin_client, tenant):
    response = admin_client.post("/admin/pki/certificateauthority/add/", {"tenant": tenant.pk, "algorithm": "ec-p256"})
    assert response.status_code == 302
    assert sorted(CertificateAuthority.objects.values_list("kind", flat=True)) == ["intermediate", "root"]


def test_admin_actions__revoke_with_reason_renew_and_chain(admin_client, issued):
    url = "/admin/pki/issuedcertificate/"
    response = admin_client.post(
        url, {"action": "revoke", "_selected_action": [issued.pk], "reason": "affiliation_changed"}
    )
    assert response.status_code == 302
    issued.refresh_from_db()
    assert (issued.status, issued.revocation_reason) == ("revoked", "affiliation_changed")

    renew = admin_client.post(url, {"action": "renew", "_selected_action": [issued.pk]}, follow=True)
    assert any(str(m).startswith("Not renewed:") for m in renew.context["messages"])
    assert IssuedCertificate.objects.count() == 1  # revoked certificates are not renewed

    chain = admin_client.post(url, {"action": "download_chain", "_selected_action": [issued.pk]})
    assert chain.status_code == 200
    assert chain["Content-Type"] == "application/x-pem-file"
    assert chain.content.count(b"BEGIN CERTIFICATE") == 2


def test_admin_view_only_staff__cannot_create_issue_or_revoke(client, tenant, subscriber, issued):
    user = get_user_model().objects.create_user("auditor", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="pki", codename__startswith="view_"))
    client.force_login(user)
    assert client.get("/admin/pki/issuedcertificate/").status_code == 200  # may look

    create = client.post("/admin/pki/certificateauthority/add/", {"tenant": tenant.pk, "algorithm": "ec-p256"})
    issue = client.post("/admin/pki/issuedcertificate/add/", {"tenant": tenant.pk, "subscriber": subscriber.pk})
    client.post("/admin/pki/issuedcertificate/", {"action": "revoke", "_selected_action": [issued.pk]})

    assert (create.status_code, issue.status_code) == (403, 403)
    assert CertificateAuthority.objects.count() == 2  # the fixture's root and issuing CA only
    issued.refresh_from_db()
    assert issued.status == "valid"


def test_admin_scoping__tenant_admin_sees_only_own_tenant(client, issued):
    other = tenant_create(name="Other", slug="other")
    services.ca_create_hierarchy(tenant=other)
    user = get_user_model().objects.create_user("ops", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="pki"))
    TenantMembership.objects.create(user=user, tenant=other)
    client.force_login(user)
    listing = client.get("/admin/pki/issuedcertificate/")
    assert listing.status_code == 200
    assert issued.serial not in listing.content.decode()
    cas = client.get("/admin/pki/certificateauthority/").content.decode()
    assert "Other Root CA" in cas
    assert "Acme Bank Root CA" not in cas


def test_commands__create_issue_revoke_export_publish(tenant, subscriber, tmp_path, capsys, monkeypatch):
    call_command("create_ca", "--tenant", "acme")
    created = json.loads(capsys.readouterr().out)
    assert created["issuing"]["algorithm"] == "ec-p256"

    _, csr = make_csr()
    (tmp_path / "req.pem").write_text(csr)
    call_command("issue_cert", "--tenant", "acme", "--username", "alice", "--csr", str(tmp_path / "req.pem"))
    from_csr = json.loads(capsys.readouterr().out)
    assert from_csr["san_uri"] == "urn:mfa:acme:alice"

    monkeypatch.setenv("P12_PASSWORD", "long enough password")
    p12 = tmp_path / "alice.p12"
    call_command(
        "issue_cert",
        "--tenant",
        "acme",
        "--username",
        "alice",
        "--p12-out",
        str(p12),
        "--p12-password-env",
        "P12_PASSWORD",
    )
    bundled = json.loads(capsys.readouterr().out)
    key, cert, _ = pkcs12.load_key_and_certificates(p12.read_bytes(), b"long enough password")
    assert format(cert.serial_number, "X") == bundled["serial"]
    assert oct(p12.stat().st_mode & 0o777) == "0o600"

    call_command("revoke_cert", "--serial", from_csr["serial"], "--reason", "superseded")
    assert json.loads(capsys.readouterr().out)["status"] == "revoked"
    with pytest.raises(CommandError, match="certificate_already_revoked"):
        call_command("revoke_cert", "--serial", from_csr["serial"])

    call_command(
        "export_chain",
        "--tenant",
        "acme",
        "--out",
        str(tmp_path / "nginx-ca.pem"),
        "--crl-out",
        str(tmp_path / "nginx-crl.pem"),
    )
    exported = json.loads(capsys.readouterr().out)
    assert (exported["certificates"], exported["crls"]) == (2, 2)
    # What nginx does with ssl_client_certificate + ssl_crl: CRL checks on every level of the chain.
    for pem, expected in [(bundled["certificate"], 0), (from_csr["certificate"], 2)]:
        (tmp_path / "leaf.pem").write_text(pem)
        result = subprocess.run(
            [
                "openssl",
                "verify",
                "-CAfile",
                str(tmp_path / "nginx-ca.pem"),
                "-crl_check_all",
                "-CRLfile",
                str(tmp_path / "nginx-crl.pem"),
                str(tmp_path / "leaf.pem"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == expected, result.stdout + result.stderr

    call_command("publish_crl", "--tenant", "acme")
    assert json.loads(capsys.readouterr().out)["published"] == 2

    issuing = CertificateAuthority.objects.get(is_issuing=True)
    assert openssl_verify(tmp_path, issuing, from_csr["certificate"]).returncode != 0
    assert openssl_verify(tmp_path, issuing, bundled["certificate"]).returncode == 0


def test_command_import_ca__and_unknown_user_error(tenant, tmp_path, capsys):
    root, _ = services.ca_create_hierarchy(tenant=tenant_create(name="Elsewhere", slug="elsewhere"))
    key = services.keys.decrypt_private_key(root.encrypted_private_key)
    from cryptography.hazmat.primitives import serialization

    (tmp_path / "ca.pem").write_text(root.certificate_pem)
    (tmp_path / "ca.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    call_command("import_ca", "--tenant", "acme", "--cert", str(tmp_path / "ca.pem"), "--key", str(tmp_path / "ca.key"))
    assert json.loads(capsys.readouterr().out)["ca"]["kind"] == "root"
    _, csr = make_csr()
    (tmp_path / "req.pem").write_text(csr)
    with pytest.raises(CommandError, match="not_found"):
        call_command("issue_cert", "--tenant", "acme", "--username", "nobody", "--csr", str(tmp_path / "req.pem"))


def _device_request(phone, csr: str, *, timestamp: int | None = None, key=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    payload = services.device_csr_payload(device_id=phone.device_id, csr=csr, timestamp=timestamp)
    return {"csr": csr, "timestamp": timestamp, "signature": sign_payload(key or phone.key, payload)}


def test_device_certificate_api__issues_bound_cert_with_fresh_proof(phone, issuing, tmp_path):
    _, csr = make_csr()
    body = _device_request(phone, csr)
    response = phone.client.post(
        "/api/v1/device/certificate",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Device {phone.token}",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["san_uri"] == f"urn:mfa:acme:alice:device:{phone.device_id}"
    assert data["chain"].count("BEGIN CERTIFICATE") == 2
    issued = IssuedCertificate.objects.get(serial=data["serial"])
    assert (issued.device_id, issued.source) == (phone.device_id, "device_api")
    assert openssl_verify(tmp_path, issuing, data["certificate"]).returncode == 0
    assert AuditEvent.objects.get(kind="pki.certificate_issued").actor == f"device:{phone.device_id}"

    replay = phone.client.post(
        "/api/v1/device/certificate",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Device {phone.token}",
    )
    assert replay.status_code == 401
    assert replay.json()["code"] == "proof_invalid"
    assert IssuedCertificate.objects.count() == 1


@pytest.mark.parametrize("problem", ["stale", "wrong_key", "no_token", "bad_csr", "locked"])
def test_device_certificate_api__refusals(subscriber, phone, issuing, problem):
    from cryptography.hazmat.primitives.asymmetric import ec

    _, csr = make_csr()
    kwargs = {}
    if problem == "stale":
        kwargs["timestamp"] = int(time.time()) - 3600
    if problem == "wrong_key":
        kwargs["key"] = ec.generate_private_key(ec.SECP256R1())
    body = _device_request(phone, csr, **kwargs)
    if problem == "bad_csr":
        body["csr"] = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
    if problem == "locked":
        Subscriber.objects.filter(pk=subscriber.pk).update(status=Subscriber.Status.LOCKED)
    headers = {} if problem == "no_token" else {"HTTP_AUTHORIZATION": f"Device {phone.token}"}
    response = phone.client.post("/api/v1/device/certificate", body, content_type="application/json", **headers)
    expected = {
        "stale": (401, "proof_invalid"),
        "wrong_key": (401, "proof_invalid"),
        "no_token": (401, "not_authenticated"),
        "bad_csr": (400, "csr_invalid"),
        "locked": (403, "subscriber_inactive"),
    }[problem]
    assert (response.status_code, response.json()["code"]) == expected
    assert not IssuedCertificate.objects.exists()
