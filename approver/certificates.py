""" "Certificate for this computer": the approval client fetches a client certificate for its own machine.

Issue 6, point 5. The device session asks for request options (``POST api/certificate/options``), whose
challenge is bound to this device and this action (``MANAGE`` / ``cert``, single use, short-lived, the
same ceremony as removing the device). The page then posts the PKCS#12 password with a fresh
user-verified assertion (``POST api/certificate``); the server generates the key, issues a certificate
bound to the subscriber and this device from the tenant's issuing CA (``pki.services``) and returns the
password-protected PKCS#12 as the response body, once: the key is not stored. Refusals are audited as
``pki.certificate_refused`` with their code; the issuance itself as ``pki.certificate_issued``.
The password is never logged or audited.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from approver.api import DeviceSessionApi
from devices import credentials
from devices.models import Device
from devices.services import device_audit
from mfa_server.errors import DomainError
from mfa_server.net import client_ip
from pki.exceptions import P12PasswordTooShortError, SubscriberInactiveError
from pki.models import CertificateAuthority, IssuedCertificate
from pki.selectors import ca_issuing_for_tenant
from pki.services import IssuedBundle, certificate_issue_pkcs12

ACTION = "cert"  # the ``decision`` a MANAGE challenge is bound to (max 10 characters)


def _refused(device: Device, *, reason: str, ip: str | None) -> None:
    detail = {"reason": reason, "channel": "approver"}
    device_audit(device, "pki.certificate_refused", actor=f"device:{device.pk}", ip=ip, detail=detail)


def _issuing_ca(device: Device) -> CertificateAuthority:
    """The tenant's usable issuing CA, for an active subscriber (``ca_not_found`` / ``ca_expired``)."""
    subscriber = device.subscriber
    if subscriber.is_blocked:
        raise SubscriberInactiveError()
    return ca_issuing_for_tenant(tenant=subscriber.tenant)


def web_certificate_options(*, device: Device, client_ip: str | None = None) -> dict[str, Any]:
    """Request options for the certificate action, after checking that the tenant can issue at all.

    Raises (audited as ``pki.certificate_refused``) ``CaNotFoundError``, ``CaExpiredError``,
    ``SubscriberInactiveError`` or ``NotWebAuthnDeviceError``.
    """
    try:
        _issuing_ca(device)
        return credentials.assertion_options(
            device=device, approval_id=None, decision=ACTION, purpose=credentials.Purpose.MANAGE
        )
    except DomainError as exc:
        _refused(device, reason=exc.code, ip=client_ip)
        raise


def web_certificate_issue(
    *, device: Device, password: str, credential: Any, client_ip: str | None = None
) -> IssuedBundle:
    """Issue a certificate for this device's machine after a fresh user-verified assertion.

    The password is checked first (a weak one does not use up the challenge); then the assertion
    (challenge bound to this device and action, consumed before verification, UV required, sign count);
    then the server generates the key and seals it with the certificate and chain in a PKCS#12.

    Raises (each audited as ``pki.certificate_refused``): ``P12PasswordTooShortError``,
    ``WebAuthnChallengeInvalidError``, ``WebAuthnVerificationError``, ``NotWebAuthnDeviceError``,
    ``SubscriberInactiveError``, ``CaNotFoundError``, ``CaExpiredError``.
    """
    subscriber = device.subscriber
    try:
        if len(password) < settings.MFA_PKI_P12_MIN_PASSWORD_LENGTH:
            raise P12PasswordTooShortError(minimum=settings.MFA_PKI_P12_MIN_PASSWORD_LENGTH)
        credentials.assertion_verify(
            device=device, credential=credential, approval_id=None, decision=ACTION, purpose=credentials.Purpose.MANAGE
        )
        return certificate_issue_pkcs12(
            ca=_issuing_ca(device),
            tenant=subscriber.tenant,
            subscriber=subscriber,
            device=device,
            password=password,
            actor=f"device:{device.pk}",
            source=IssuedCertificate.Source.APPROVER,
            ip=client_ip,
        )
    except DomainError as exc:
        _refused(device, reason=exc.code, ip=client_ip)
        raise


class CertificateInputSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=1024, trim_whitespace=False, allow_blank=True)
    credential = serializers.DictField(help_text="PublicKeyCredential.toJSON() answering the certificate options.")


class CertificateOptionsApi(DeviceSessionApi):
    """Request options for "Certificate for this computer" (a fresh fingerprint check is required)."""

    def post(self, request: Request) -> Response:
        options = web_certificate_options(device=self.device, client_ip=client_ip(request))
        return Response({"publicKey": options, "min_password_length": settings.MFA_PKI_P12_MIN_PASSWORD_LENGTH})


class CertificateApi(DeviceSessionApi):
    """Issue and deliver the PKCS#12 once, as an attachment that no cache keeps."""

    def post(self, request: Request) -> HttpResponse:
        data = CertificateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bundle = web_certificate_issue(
            device=self.device,
            password=data.validated_data["password"],
            credential=data.validated_data["credential"],
            client_ip=client_ip(request),
        )
        issued = bundle.certificate
        response = HttpResponse(bundle.pkcs12, content_type="application/x-pkcs12", status=201)
        filename = f"certificate-{issued.serial[:16]}.p12"  # serial only: usernames may hold any character
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        response["X-Certificate-Serial"] = issued.serial
        return response
