"""Revocation, CRLs (service, worker hook and public URLs), renewal and CA lifetime rules."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
import time_machine
from cryptography import x509
from django.utils import timezone

from audit.models import AuditEvent
from pki import services
from pki.exceptions import CaExpiredError, CertificateAlreadyRevokedError, CertificateRevokedError
from pki.models import CertificateAuthority, IssuedCertificate
from tests.pki.conftest import make_csr, openssl_verify


@pytest.fixture
def issued(tenant, subscriber, issuing) -> IssuedCertificate:
    _, csr = make_csr()
    return services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr)


def test_certificate_revoke__fails_openssl_crl_check_and_is_listed(issued, issuing, tmp_path):
    assert openssl_verify(tmp_path, issuing, issued.certificate_pem).returncode == 0
    crl_number_before = CertificateAuthority.objects.get(pk=issuing.pk).crl_number

    services.certificate_revoke(certificate=issued, reason="key_compromise", actor="admin:root")

    result = openssl_verify(tmp_path, issuing, issued.certificate_pem)
    assert result.returncode != 0
    assert "revoked" in (result.stdout + result.stderr).lower()
    issuing.refresh_from_db()
    assert issuing.crl_number == crl_number_before + 1
    crl = x509.load_der_x509_crl(bytes(issuing.crl_der))
    entry = crl.get_revoked_certificate_by_serial_number(int(issued.serial, 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    stored = IssuedCertificate.objects.get(pk=issued.pk)
    assert stored.status == "revoked"
    assert stored.revocation_reason == "key_compromise"
    event = AuditEvent.objects.get(kind="pki.certificate_revoked")
    assert event.detail == {"serial": issued.serial, "reason": "key_compromise"}
    assert event.actor == "admin:root"


def test_certificate_revoke__twice_is_an_error_without_effect(issued, issuing):
    services.certificate_revoke(certificate=issued, reason="superseded")
    first = IssuedCertificate.objects.get(pk=issued.pk)
    issuing.refresh_from_db()
    crl_before, number_before = bytes(issuing.crl_der), issuing.crl_number

    with pytest.raises(CertificateAlreadyRevokedError) as exc:
        services.certificate_revoke(certificate=issued, reason="key_compromise")

    assert exc.value.code == "certificate_already_revoked"
    assert exc.value.http_status == 409
    again = IssuedCertificate.objects.get(pk=issued.pk)
    assert (again.revoked_at, again.revocation_reason) == (first.revoked_at, "superseded")
    issuing.refresh_from_db()
    assert (bytes(issuing.crl_der), issuing.crl_number) == (crl_before, number_before)
    assert AuditEvent.objects.filter(kind="pki.certificate_revoked").count() == 1


def test_crl__parses_with_openssl_der(issued, issuing, tmp_path):
    services.certificate_revoke(certificate=issued, reason="unspecified")
    issuing.refresh_from_db()
    (tmp_path / "crl.der").write_bytes(bytes(issuing.crl_der))
    result = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-noout", "-text", "-in", str(tmp_path / "crl.der")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listed = [line.split(":", 1)[1].strip() for line in result.stdout.splitlines() if "Serial Number:" in line]
    assert [int(serial, 16) for serial in listed] == [int(issued.serial, 16)]
    assert "X509v3 CRL Number" in result.stdout


def test_crl_views__serve_der_and_pem_with_content_types(client, issued, issuing):
    services.certificate_revoke(certificate=issued)
    der = client.get(f"/pki/ca/{issuing.public_id}/crl.der")
    assert der.status_code == 200
    assert der["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(der.content)
    assert crl.get_revoked_certificate_by_serial_number(int(issued.serial, 16)) is not None
    pem = client.get(f"/pki/ca/{issuing.public_id}/crl.pem")
    assert pem.status_code == 200
    assert pem["Content-Type"] == "application/x-pem-file"
    assert x509.load_pem_x509_crl(pem.content) == crl
    chain = client.get(f"/pki/ca/{issuing.public_id}/chain.pem")
    assert chain.status_code == 200
    assert chain.content.count(b"BEGIN CERTIFICATE") == 2
    assert client.get("/pki/ca/00000000-0000-0000-0000-000000000000/crl.der").status_code == 404
    assert client.post(f"/pki/ca/{issuing.public_id}/crl.der").status_code == 405


def test_crl_url_in_certificate__is_the_served_url(client, issued, issuing, settings):
    cert = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    url = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0].full_name[0].value
    assert url.startswith(settings.MFA_PKI_PUBLIC_URL)
    path = url.removeprefix(settings.MFA_PKI_PUBLIC_URL.rstrip("/"))
    assert client.get(path).status_code == 200


def test_crl_refresh_due__republishes_only_crls_close_to_expiry(issuing, hierarchy, settings):
    root = hierarchy[0]
    assert services.crl_refresh_due() == 0  # both were just published with a week to go
    number = CertificateAuthority.objects.get(pk=issuing.pk).crl_number
    later = timezone.now() + timedelta(
        hours=settings.MFA_PKI_CRL_VALIDITY_HOURS - settings.MFA_PKI_CRL_REFRESH_HOURS + 1
    )
    with time_machine.travel(later, tick=False):
        assert services.crl_refresh_due() == 2
    issuing.refresh_from_db()
    root.refresh_from_db()
    assert issuing.crl_number == number + 1
    assert issuing.crl_next_update > later + timedelta(hours=settings.MFA_PKI_CRL_REFRESH_HOURS)
    assert root.crl_next_update > later


def test_ca_expired__cannot_issue(tenant, subscriber):
    _, short = services.ca_create_hierarchy(tenant=tenant, issuing_validity_days=1)
    _, csr = make_csr()
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        with pytest.raises(CaExpiredError) as exc:
            services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr)
        assert exc.value.code == "ca_expired"
        with pytest.raises(CaExpiredError):
            services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr, ca=short)
    assert not IssuedCertificate.objects.exists()


def test_certificate_validity__never_outlives_the_ca(tenant, subscriber):
    _, short = services.ca_create_hierarchy(tenant=tenant, issuing_validity_days=10)
    _, csr = make_csr()
    issued = services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr, validity_days=365)
    assert issued.not_after == short.not_after


def test_certificate_renew__same_key_new_serial(issued, issuing, tmp_path):
    renewed = services.certificate_renew(certificate=issued, validity_days=30, actor="admin:root")
    assert renewed.serial != issued.serial
    assert renewed.renewed_from_id == issued.pk
    assert renewed.public_key_sha256 == issued.public_key_sha256
    assert renewed.san_uri == issued.san_uri
    assert renewed.source == "renewal"
    assert openssl_verify(tmp_path, issuing, renewed.certificate_pem).returncode == 0
    event = AuditEvent.objects.filter(kind="pki.certificate_issued").latest("id")
    assert event.detail["renewed_from"] == issued.serial


def test_certificate_renew__revoked_refused(issued):
    services.certificate_revoke(certificate=issued)
    with pytest.raises(CertificateRevokedError) as exc:
        services.certificate_renew(certificate=issued)
    assert exc.value.code == "certificate_revoked"
    assert IssuedCertificate.objects.count() == 1


def test_worker_run_once__refreshes_due_crls(issuing, settings):
    from approvals.worker import run_once

    CertificateAuthority.objects.filter(pk=issuing.pk).update(crl_next_update=timezone.now() + timedelta(hours=1))
    number = CertificateAuthority.objects.get(pk=issuing.pk).crl_number
    assert run_once()["crls_published"] == 1
    issuing.refresh_from_db()
    assert issuing.crl_number == number + 1
    assert issuing.crl_next_update > timezone.now() + timedelta(hours=settings.MFA_PKI_CRL_REFRESH_HOURS)


def _openssl_ocsp(tmp_path, client, issuing, cert_pem: str, *, method: str = "POST") -> str:
    import base64

    (tmp_path / "issuer.pem").write_text(issuing.certificate_pem)
    (tmp_path / "leaf.pem").write_text(cert_pem)
    from pki.selectors import ca_chain_pem

    (tmp_path / "chain.pem").write_text(ca_chain_pem(ca=issuing))
    subprocess.run(
        [
            "openssl",
            "ocsp",
            "-issuer",
            str(tmp_path / "issuer.pem"),
            "-cert",
            str(tmp_path / "leaf.pem"),
            "-reqout",
            str(tmp_path / "req.der"),
        ],
        check=True,
        capture_output=True,
    )
    request = (tmp_path / "req.der").read_bytes()
    if method == "POST":
        response = client.post(f"/pki/ca/{issuing.public_id}/ocsp", request, content_type="application/ocsp-request")
    else:
        response = client.get(f"/pki/ca/{issuing.public_id}/ocsp/{base64.b64encode(request).decode()}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ocsp-response"
    (tmp_path / "resp.der").write_bytes(response.content)
    result = subprocess.run(
        [
            "openssl",
            "ocsp",
            "-respin",
            str(tmp_path / "resp.der"),
            "-reqin",
            str(tmp_path / "req.der"),
            "-resp_text",
            "-CAfile",
            str(tmp_path / "chain.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout + result.stderr


def test_ocsp__openssl_sees_good_then_revoked(client, issued, issuing, tmp_path, settings):
    cert = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == f"{settings.MFA_PKI_PUBLIC_URL}/pki/ca/{issuing.public_id}/ocsp"
    out = _openssl_ocsp(tmp_path, client, issuing, issued.certificate_pem)
    assert "Response verify OK" in out
    assert "Cert Status: good" in out
    services.certificate_revoke(certificate=issued, reason="key_compromise")
    out = _openssl_ocsp(tmp_path, client, issuing, issued.certificate_pem, method="GET")
    assert "Response verify OK" in out
    assert "Cert Status: revoked" in out
    assert "Revocation Reason: keyCompromise" in out


def test_ocsp__other_issuer_unauthorized_and_garbage_malformed(client, issued, issuing, hierarchy, tmp_path):
    from cryptography.x509 import ocsp

    root = hierarchy[0]
    wrong = client.post(f"/pki/ca/{root.public_id}/ocsp", b"", content_type="application/ocsp-request")
    assert ocsp.load_der_ocsp_response(wrong.content).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    _openssl_ocsp(tmp_path, client, issuing, issued.certificate_pem)  # writes req.der for the issuing CA
    unauthorized = client.post(
        f"/pki/ca/{root.public_id}/ocsp", (tmp_path / "req.der").read_bytes(), content_type="application/ocsp-request"
    )
    status = ocsp.load_der_ocsp_response(unauthorized.content).response_status
    assert status == ocsp.OCSPResponseStatus.UNAUTHORIZED
