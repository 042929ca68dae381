"""Device passcodes (TOTP) for the approver web app: provisioning over the device session.

The secret is created by ``fallbacks.services.passcode_secret_provision`` and handed to the browser
once, over the cookie session (CSRF enforced). A second plain call is ``409
passcode_secret_already_provisioned``, as on the device API. A browser that lost its copy (storage
evicted, another browser profile) may replace the secret only with a fresh user-verified WebAuthn
assertion bound to this purpose (the same ceremony as removing the device); the old secret stops
working at once. The secret is never logged or audited.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from approver.api import DeviceSessionApi
from devices import credentials
from devices.models import Device
from devices.services import device_audit
from fallbacks.codes import TOTP_DIGITS, TOTP_INTERVAL
from fallbacks.exceptions import PasscodeSecretAlreadyProvisionedError
from fallbacks.services import passcode_secret_provision, passcode_secret_reset
from mfa_server.errors import DomainError
from mfa_server.net import client_ip

REPROVISION = "passcode"  # the ``decision`` a MANAGE challenge is bound to (max 10 characters)


def _refused(device: Device, *, reason: str, ip: str | None) -> None:
    detail = {"reason": reason, "channel": "approver"}
    device_audit(device, "passcode_secret.provision_refused", actor=f"device:{device.pk}", ip=ip, detail=detail)


def web_passcode_provision(*, device: Device, client_ip: str | None = None) -> str:
    """The device's first TOTP secret (audited ``passcode_secret.provisioned``).

    Raises ``PasscodeSecretAlreadyProvisionedError`` (audited as a refusal) when it already has one.
    """
    try:
        return passcode_secret_provision(device=device)
    except PasscodeSecretAlreadyProvisionedError as exc:
        _refused(device, reason=exc.code, ip=client_ip)
        raise


def web_passcode_reprovision(*, device: Device, credential: Any, client_ip: str | None = None) -> str:
    """Replace the device's TOTP secret after a fresh user-verified assertion (single-use challenge).

    Raises ``WebAuthnChallengeInvalidError``, ``WebAuthnVerificationError`` or ``NotWebAuthnDeviceError``
    (audited as ``passcode_secret.provision_refused``). The old secret is forgotten in the same
    transaction (audited ``passcode_secret.reset``).
    """
    try:
        credentials.assertion_verify(
            device=device,
            credential=credential,
            approval_id=None,
            decision=REPROVISION,
            purpose=credentials.Purpose.MANAGE,
        )
    except DomainError as exc:
        _refused(device, reason=exc.code, ip=client_ip)
        raise
    with transaction.atomic():
        passcode_secret_reset(device=device, actor=f"device:{device.pk}")
        return passcode_secret_provision(device=device)


class PasscodeSecretInputSerializer(serializers.Serializer):
    credential = serializers.DictField(
        required=False, help_text="PublicKeyCredential.toJSON() answering the re-provisioning options."
    )


class PasscodeSecretApi(DeviceSessionApi):
    """POST ``{}``: the first secret. POST ``{"credential": ...}``: a new secret after a fingerprint check."""

    def post(self, request: Request) -> Response:
        data = PasscodeSecretInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ip = client_ip(request)
        if "credential" in data.validated_data:
            secret = web_passcode_reprovision(
                device=self.device, credential=data.validated_data["credential"], client_ip=ip
            )
        else:
            secret = web_passcode_provision(device=self.device, client_ip=ip)
        body = {
            "device_id": self.device.pk,
            "secret": secret,
            "digits": TOTP_DIGITS,
            "period": TOTP_INTERVAL,
            "algorithm": "SHA1",
            "issuer": self.device.subscriber.tenant.display_name,
            "label": self.device.subscriber.username,
        }
        response = Response(body, status=201)
        response["Cache-Control"] = "no-store"
        return response


class PasscodeSecretOptionsApi(DeviceSessionApi):
    """Request options for replacing the passcode secret (a fresh fingerprint check is required)."""

    def post(self, request: Request) -> Response:
        options = credentials.assertion_options(
            device=self.device, approval_id=None, decision=REPROVISION, purpose=credentials.Purpose.MANAGE
        )
        return Response({"publicKey": options})
