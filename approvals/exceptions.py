"""Domain errors of approvals, each with a stable code."""

from __future__ import annotations

from mfa_server.errors import DomainError, NotFoundError, RateLimitedError


class ApprovalNotFoundError(NotFoundError):
    code = "approval_not_found"
    default_message = "No such approval request."


class ApprovalAlreadyDecidedError(DomainError):
    code = "approval_already_decided"
    http_status = 409
    default_message = "This approval request has already been decided."


class ApprovalExpiredError(DomainError):
    code = "approval_expired"
    http_status = 409
    default_message = "This approval request has expired."


class SubscriberUnknownError(DomainError):
    code = "enrollment_required"
    http_status = 403
    default_message = "This user has no enrolled device."


class SubscriberDeniedError(DomainError):
    code = "subscriber_denied"
    http_status = 403
    default_message = "This user may not log in."


class FactorNotSupportedError(DomainError):
    code = "factor_not_supported"
    default_message = "This factor is not available."


class ProofInvalidError(DomainError):
    code = "proof_invalid"
    default_message = "The decision proof does not verify against the device key."


class ProofStaleError(DomainError):
    code = "proof_stale"
    default_message = "The decision proof timestamp is outside the allowed window."


class ProofReusedError(DomainError):
    code = "proof_reused"
    http_status = 409
    default_message = "This decision proof has already been used."


class NumberMismatchError(DomainError):
    code = "number_mismatch"
    default_message = "The number does not match the one shown at login; the request was denied."


class TooManyWaitingCallsError(RateLimitedError):
    code = "too_many_waiting_calls"
    default_message = "Too many calls of this application are already waiting for their users; retry shortly."

    def __init__(self) -> None:
        super().__init__(retry_after=1)
