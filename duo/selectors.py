"""Reads of the Duo Auth API surface: preauth, enrolment status and transaction status in Duo's shapes."""

from __future__ import annotations

from typing import Any

from approvals import selectors as approval_selectors
from approvals.models import Application, ApprovalRequest
from approvals.services import relying_result
from devices.models import Enrollment
from devices.services import normalize_activation_code
from duo.identifiers import duo_device_id, subscriber_pk_from
from mfa_server.crypto import hash_token
from policies.facts import RequestFacts

Status = ApprovalRequest.Status

PREAUTH_STATUS_MSG = {
    "auth": "Account is active",
    "allow": "Account is in bypass mode",
    "deny": "Account is disabled or locked out",
    "enroll": "Enroll an authentication device to proceed",
}

WRONG_PASSCODE = "Incorrect passcode. Please try again."
SMS_SENT = {"result": "deny", "status": "sent", "status_msg": "New SMS passcodes sent."}

# (our status, our reason) -> (Duo status, status_msg); reason None matches any reason.
_STATUS: dict[tuple[str, str | None], tuple[str, str]] = {
    (Status.APPROVED, "bypass"): ("bypass", "Bypass user. Logging you in..."),
    (Status.APPROVED, None): ("allow", "Success. Logging you in..."),
    (Status.DENIED, "number_mismatch"): ("deny", "Incorrect verification code. Login request denied."),
    (Status.DENIED, "passcode_invalid"): ("deny", WRONG_PASSCODE),
    (Status.DENIED, "passcode_reused"): ("deny", WRONG_PASSCODE),
    (Status.DENIED, "bypass_code_invalid"): ("deny", WRONG_PASSCODE),
    (Status.DENIED, "code_attempts_exceeded"): ("deny", WRONG_PASSCODE),
    (Status.DENIED, None): ("deny", "Login request denied."),
    (Status.FRAUD, None): ("fraud", "Login request reported as fraudulent."),
    (Status.TIMEOUT, None): ("timeout", "Login timed out."),
    (Status.CANCELLED, None): ("deny", "Login request cancelled."),
}


# our factor -> Duo device capability (session codes have no Duo equivalent and are not listed)
_CAPABILITY = {"push": "push", "passcode": "mobile_otp"}


def _duo_capabilities(factors: tuple[str, ...], *, sms: bool) -> list[str]:
    capabilities = [_CAPABILITY[f] for f in factors if f in _CAPABILITY]
    if sms:
        capabilities.append("sms")
    return (["auto"] if "push" in capabilities or "sms" in capabilities else []) + capabilities


def duo_preauth(*, application: Application, username: str, facts: RequestFacts) -> dict[str, Any]:
    """``/preauth``'s response (without Verified Push fields): result, status_msg and capable devices."""
    result = approval_selectors.preauth(application=application, username=username, facts=facts)
    response: dict[str, Any] = {"result": result.result, "status_msg": PREAUTH_STATUS_MSG[result.result]}
    if result.result == "auth":
        response["devices"] = [
            {
                "device": duo_device_id(device.device_id),
                "type": "phone",
                "number": "",
                "name": device.name,
                "display_name": f"{device.name} ({device.platform})" if device.platform else device.name,
                "capabilities": _duo_capabilities(device.capabilities, sms="sms" in result.factors),
            }
            for device in result.devices
        ]
    return response


def duo_enroll_status(*, application: Application, user_id: str, activation_code: str) -> str:
    """``success`` once the code activated a device, ``waiting`` while usable, else ``invalid``."""
    subscriber_pk = subscriber_pk_from(user_id)
    if subscriber_pk is None:
        return "invalid"
    enrollment = Enrollment.objects.filter(
        code_hash=hash_token(normalize_activation_code(activation_code)),
        subscriber_id=subscriber_pk,
        subscriber__tenant_id=application.tenant_id,
    ).first()
    if enrollment is None:
        return "invalid"
    return {"used": "success", "pending": "waiting"}.get(enrollment.status, "invalid")


def duo_status(approval: ApprovalRequest | None) -> dict[str, Any]:
    """``result`` / ``status`` / ``status_msg`` of a transaction, as ``/auth`` and ``/auth_status`` answer.

    None is a wrong SMS passcode that left its transaction open: this call is denied.
    """
    if approval is None:
        return {"result": "deny", "status": "deny", "status_msg": WRONG_PASSCODE}
    result = relying_result(approval.status)
    if approval.status == Status.PENDING and approval.factor == ApprovalRequest.Factor.SMS:
        return dict(SMS_SENT)  # Duo: an SMS "authentication" ends at once; the code comes back as a passcode
    if approval.status == Status.PENDING:
        status = "pushed"
        message = (
            f"Please enter verification code {approval.number} into your phone..."
            if approval.number
            else "Pushed a login request to your device..."
        )
    else:
        status, message = _STATUS.get((approval.status, approval.status_reason)) or _STATUS[(approval.status, None)]
    return {"result": result, "status": status, "status_msg": message}
