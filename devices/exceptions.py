"""Domain errors of enrolment and devices."""

from __future__ import annotations

from mfa_server.errors import DomainError, NotAuthenticatedError


class ActivationCodeInvalidError(DomainError):
    code = "activation_code_invalid"
    default_message = "The activation code is not valid, already used or expired."


class PublicKeyInvalidError(DomainError):
    code = "public_key_invalid"
    default_message = "The public key must be a PEM encoded EC P-256 SubjectPublicKeyInfo."


class DeviceRevokedError(NotAuthenticatedError):
    code = "device_revoked"
    default_message = "This device has been removed."
