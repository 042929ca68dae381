"""Domain errors of the certificate authority; each ``code`` is stable once released."""

from __future__ import annotations

from mfa_server.errors import DomainError


class PkiError(DomainError):
    code = "pki_error"


class CaNotFoundError(PkiError):
    code = "ca_not_found"
    http_status = 404
    default_message = "The tenant has no usable issuing certificate authority."


class CaExpiredError(PkiError):
    code = "ca_expired"
    http_status = 409
    default_message = "The certificate authority has expired and cannot issue certificates."


class CaNotIssuingError(PkiError):
    code = "ca_not_issuing"
    http_status = 409
    default_message = "This certificate authority does not issue client certificates."


class CaImportInvalidError(PkiError):
    code = "ca_import_invalid"
    default_message = "The CA certificate or key cannot be imported."


class CaKeyUnavailableError(PkiError):
    code = "ca_key_unavailable"
    http_status = 500
    default_message = "The CA private key cannot be decrypted with the configured key-encryption keys."


class CsrInvalidError(PkiError):
    code = "csr_invalid"
    default_message = "The certificate signing request cannot be parsed."


class CsrSignatureInvalidError(PkiError):
    code = "csr_signature_invalid"
    default_message = "The certificate signing request is not signed by its own key."


class KeyNotAllowedError(PkiError):
    code = "key_not_allowed"
    default_message = "Only EC P-256/P-384 and RSA keys of at least 2048 bits are accepted."


class P12PasswordTooShortError(PkiError):
    code = "p12_password_too_short"
    default_message = "The PKCS#12 password is too short."


class CertificateAlreadyRevokedError(PkiError):
    code = "certificate_already_revoked"
    http_status = 409
    default_message = "The certificate is already revoked."


class CertificateRevokedError(PkiError):
    code = "certificate_revoked"
    http_status = 409
    default_message = "A revoked certificate cannot be renewed."


class HolderInvalidError(PkiError):
    code = "holder_invalid"
    default_message = "The subscriber or device does not belong to this tenant."


class CertificateProofInvalidError(PkiError):
    code = "proof_invalid"
    http_status = 401
    default_message = "The device signature over the CSR is missing, stale or invalid."


class SubscriberInactiveError(PkiError):
    code = "subscriber_inactive"
    http_status = 403
    default_message = "The subscriber is disabled or locked."
