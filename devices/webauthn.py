"""The only module that imports py_webauthn: options builders and verification wrappers.

Pure functions: they take the RP configuration and the stored credential, return our frozen
dataclasses, and turn every py_webauthn failure into ``WebAuthnVerificationError`` (the library's
message goes to the log only). Our rules on top of the library defaults:

- registration asks for a *platform* authenticator with ``userVerification: required`` and verifies
  with ``require_user_verification=True`` (WebAuthn §7.1 step 15);
- assertions are requested with ``userVerification: required`` and verified with
  ``require_user_verification=True`` (§7.2 step 17), against the one credential the device holds,
  with py_webauthn's sign-count rule (§7.2 step 21: a counter that does not increase is refused).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, options_to_json, parse_client_data_json
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorAttachment,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from mfa_server.errors import DomainError

logger = logging.getLogger(__name__)

ATTESTATION_CHOICES = ("none", "indirect", "direct", "enterprise")
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


class WebAuthnVerificationError(DomainError):
    code = "webauthn_verification_failed"
    default_message = "The security key or fingerprint check could not be verified."


@dataclass(frozen=True)
class RelyingParty:
    rp_id: str
    name: str
    origins: tuple[str, ...]


@dataclass(frozen=True)
class RegisteredCredential:
    """A verified new credential, ready to store."""

    credential_id: str  # base64url
    public_key: bytes  # COSE
    sign_count: int
    aaguid: str
    transports: tuple[str, ...]
    attestation_format: str
    attestation_object: bytes
    user_verified: bool
    backup_eligible: bool
    backed_up: bool


@dataclass(frozen=True)
class VerifiedAssertion:
    credential_id: str
    new_sign_count: int
    user_verified: bool
    backed_up: bool


def _enum_value(value: Any) -> str:
    """py_webauthn returns str-enums (or plain strings): their wire value."""
    return str(getattr(value, "value", value))


def _b64url(data: bytes) -> str:
    return bytes_to_base64url(data)


def registration_options(
    *,
    rp: RelyingParty,
    user_id: bytes,
    user_name: str,
    user_display_name: str,
    challenge: bytes,
    exclude_credential_ids: list[str],
    attestation: str = "none",
    timeout_ms: int = 120_000,
) -> dict[str, Any]:
    """``PublicKeyCredentialCreationOptions`` as JSON: platform authenticator, UV required, ES256/RS256."""
    if attestation not in ATTESTATION_CHOICES:
        raise ValueError(f"MFA_WEBAUTHN_ATTESTATION must be one of {ATTESTATION_CHOICES}")
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp.name,
        user_id=user_id,
        user_name=user_name,
        user_display_name=user_display_name,
        challenge=challenge,
        timeout=timeout_ms,
        attestation=AttestationConveyancePreference(attestation),
        authenticator_selection=AuthenticatorSelectionCriteria(
            authenticator_attachment=AuthenticatorAttachment.PLATFORM,
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(cid)) for cid in exclude_credential_ids
        ],
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def verify_registration(
    *, rp: RelyingParty, credential: dict[str, Any], expected_challenge: bytes
) -> RegisteredCredential:
    """Verify a ``navigator.credentials.create()`` result (its ``toJSON()`` shape) with UV required."""
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            require_user_verification=True,
        )
    except Exception as exc:  # any parse or verification failure of client-supplied data is a refusal
        logger.info("webauthn registration refused: %s", type(exc).__name__)
        logger.debug("webauthn registration refused: %s", exc)
        raise WebAuthnVerificationError() from exc
    response = credential.get("response") if isinstance(credential, dict) else None
    raw_transports = response.get("transports", []) if isinstance(response, dict) else []
    transports = tuple(t for t in raw_transports if isinstance(t, str) and t in _TRANSPORTS)
    return RegisteredCredential(
        credential_id=_b64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        transports=transports,
        attestation_format=_enum_value(verified.fmt),
        attestation_object=verified.attestation_object,
        user_verified=verified.user_verified,
        backup_eligible=_enum_value(verified.credential_device_type) == "multi_device",
        backed_up=verified.credential_backed_up,
    )


def authentication_options(
    *, rp: RelyingParty, challenge: bytes, credential_id: str, transports: list[str], timeout_ms: int = 120_000
) -> dict[str, Any]:
    """``PublicKeyCredentialRequestOptions`` as JSON for the device's one credential, UV required."""
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=challenge,
        timeout=timeout_ms,
        allow_credentials=[
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(credential_id),
                transports=[AuthenticatorTransport(t) for t in transports if t in _TRANSPORTS],
            )
        ],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def verify_assertion(
    *,
    rp: RelyingParty,
    credential: dict[str, Any],
    expected_challenge: bytes,
    credential_id: str,
    public_key: bytes,
    sign_count: int,
) -> VerifiedAssertion:
    """Verify a ``navigator.credentials.get()`` result for the stored credential, with UV required.

    Refuses an assertion made by any other credential, and (py_webauthn) a sign count that did not
    increase when either side keeps one.
    """
    if not isinstance(credential, dict) or credential.get("id") != credential_id:
        logger.info("webauthn assertion refused: credential mismatch")
        raise WebAuthnVerificationError()
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except Exception as exc:  # any parse or verification failure of client-supplied data is a refusal
        logger.info("webauthn assertion refused: %s", type(exc).__name__)
        logger.debug("webauthn assertion refused: %s", exc)
        raise WebAuthnVerificationError() from exc
    return VerifiedAssertion(
        credential_id=_b64url(verified.credential_id),
        new_sign_count=verified.new_sign_count,
        user_verified=verified.user_verified,
        backed_up=verified.credential_backed_up,
    )


def challenge_to_b64url(challenge: bytes) -> str:
    return _b64url(challenge)


def challenge_from_b64url(value: str) -> bytes:
    """Decode a stored challenge; raises ``ValueError`` on garbage."""
    return base64url_to_bytes(value)


def client_data_challenge(credential: Any) -> bytes | None:
    """The challenge a response claims to answer (from its clientDataJSON), or None when unreadable.

    Used only to find the server-side challenge record; verification then compares it again.
    """
    try:
        response = credential["response"]
        client_data = parse_client_data_json(base64url_to_bytes(response["clientDataJSON"]))
        return bytes(client_data.challenge)
    except Exception:  # malformed client input: no challenge
        return None
