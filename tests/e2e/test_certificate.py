"""'Certificate for this computer' in a real Chromium: a fresh fingerprint check, then the .p12 downloads once.

The tenant's CA is created with the management command in the live server's environment (``create_ca``),
its chain exported with ``export_chain``; the downloaded bundle is opened with ``cryptography`` and the
certificate checked with ``openssl verify``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

from tests.e2e.a11y import accessibility_problems
from tests.e2e.conftest import REPO
from tests.e2e.test_approver_browser import enrol

pytestmark = pytest.mark.e2e

PASSWORD = "Tr0ub4dor&3-e2e"


def manage(server: Any, *args: str) -> dict[str, Any]:
    """Run a management command against the live server's database; returns its JSON."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], env=server.env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def open_certificate_form(page: Any) -> None:
    page.click("#device-button")
    page.wait_for_selector("body[data-view=device]")
    page.wait_for_selector("#certificate-form")
    assert accessibility_problems(page) == []


def submit_password(page: Any, password: str, again: str | None = None) -> None:
    page.fill("#certificate-password", password)
    page.fill("#certificate-password-again", password if again is None else again)
    page.click("#certificate-button")


def issued_rows(server: Any, tenant: str) -> list[tuple[Any, ...]]:
    return server.query(
        "SELECT c.serial, c.device_id, c.san_uri, c.source FROM pki_issuedcertificate c "
        "JOIN tenants_tenant t ON t.id = c.tenant_id WHERE t.slug = ?",
        tenant,
    )


def test_browser_certificate__fingerprint_then_download__p12_opens_and_verifies(approver_server, phone, tmp_path):
    seeded, _ = enrol(approver_server, phone, "certok")
    manage(approver_server, "create_ca", "--tenant", seeded["tenant"])
    chain = tmp_path / "chain.pem"
    manage(approver_server, "export_chain", "--tenant", seeded["tenant"], "--out", str(chain))
    page = phone.page
    open_certificate_form(page)

    submit_password(page, PASSWORD, again=PASSWORD + "x")
    page.wait_for_selector("#certificate-status[data-code=password_mismatch]")
    with page.expect_download() as download_info:
        submit_password(page, PASSWORD)
    download = download_info.value
    assert download.suggested_filename.startswith("certificate-")
    assert download.suggested_filename.endswith(".p12")
    bundle_path = tmp_path / "mine.p12"
    download.save_as(bundle_path)
    page.wait_for_selector("#certificate-status[data-code=issued]")

    data = bundle_path.read_bytes()
    with pytest.raises(ValueError, match="password"):
        pkcs12.load_key_and_certificates(data, None)
    with pytest.raises(ValueError, match="Invalid password"):
        pkcs12.load_key_and_certificates(data, b"not the password")
    key, cert, _ = pkcs12.load_key_and_certificates(data, PASSWORD.encode())
    assert cert is not None
    assert key is not None
    assert key.public_key() == cert.public_key()
    rows = issued_rows(approver_server, seeded["tenant"])
    assert len(rows) == 1
    serial, device_id, san_uri, source = rows[0]
    assert (serial, source) == (format(cert.serial_number, "X"), "approver")
    expected_uri = f"urn:mfa:{seeded['tenant']}:alice:device:{device_id}"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [expected_uri] == [san_uri]
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(cert.public_bytes(Encoding.PEM))
    verified = subprocess.run(
        [shutil.which("openssl") or "openssl", "verify", "-CAfile", str(chain), str(leaf)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip().endswith("OK")
    audit = approver_server.query(
        "SELECT detail FROM audit_auditevent WHERE kind = 'pki.certificate_issued' AND device_id = ?", device_id
    )
    assert len(audit) == 1
    assert PASSWORD not in audit[0][0]
    assert phone.csp_violations() == []


def test_browser_certificate__fingerprint_not_verified__nothing_issued(approver_server, phone):
    seeded, _ = enrol(approver_server, phone, "certnouv")
    manage(approver_server, "create_ca", "--tenant", seeded["tenant"])
    page = phone.page
    open_certificate_form(page)
    phone.set_user_verified(False)
    downloads: list[Any] = []
    page.on("download", lambda download: downloads.append(download))
    submit_password(page, PASSWORD)
    page.wait_for_selector("#certificate-status[data-code=NotAllowedError]")
    assert "No certificate was issued" in page.text_content("#certificate-status")
    assert issued_rows(approver_server, seeded["tenant"]) == []
    assert downloads == []
    assert phone.csp_violations() == []


def test_browser_certificate__tenant_without_ca__clear_message(approver_server, phone):
    seeded, _ = enrol(approver_server, phone, "certnoca")
    page = phone.page
    open_certificate_form(page)
    submit_password(page, PASSWORD)
    page.wait_for_selector("#certificate-status[data-code=ca_not_found]")
    assert "not set up certificates" in page.text_content("#certificate-status")
    assert issued_rows(approver_server, seeded["tenant"]) == []
