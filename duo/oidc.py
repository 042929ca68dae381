"""JWTs of the Universal Prompt (spec duo-compat.md §2): client assertions, the authorize request, id_tokens.

All JWTs are HS512 keyed with the application's secret key (Duo's client_secret) and handled by PyJWT.
Hosts in ``aud`` are compared case-insensitively without the port (the client keeps its own spelling).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.models import Application, ApprovalRequest
from duo.exceptions import OidcInvalidClientError, OidcInvalidRequestError
from duo.models import RedirectUri, UsedClientAssertion
from mfa_server.crypto import decrypt_application_secret

ALGORITHM = "HS512"
LEEWAY_SECONDS = 30
ID_TOKEN_LIFETIME_SECONDS = 300
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# our factor / reason -> the names of a Duo authentication-log record
_FACTOR = {"push": "duo_push", "sms": "sms_passcode", "passcode": "passcode", "bypass_code": "bypass_code"}
_REASON = {"bypass": "bypass_user", "default": "user_approved"}


@dataclass(frozen=True)
class AuthorizeRequest:
    """A validated ``/oauth/v1/authorize`` request."""

    application: Application
    username: str
    redirect_uri: str
    state: str
    nonce: str
    use_duo_code_attribute: bool


def application_for_client(client_id: str) -> Application | None:
    return Application.objects.select_related("tenant").filter(integration_key=client_id, is_active=True).first()


def _secret(application: Application) -> str:
    return decrypt_application_secret(application.secret_encrypted)


def _aud_matches(aud: Any, *, hosts: set[str], path: str) -> bool:
    if not isinstance(aud, str):
        return False
    parts = urlsplit(aud)
    return parts.scheme == "https" and (parts.hostname or "") in hosts and parts.path == path and not parts.query


def accepted_hosts(request_host: str) -> set[str]:
    """Our own host names: the configured API hostname and the Host header, lower-cased, no port."""
    return {settings.MFA_API_HOSTNAME.lower(), request_host.rsplit(":", 1)[0].lower().strip("[]")}


def client_assertion_verify(*, params: Mapping[str, str], path: str, hosts: set[str]) -> tuple[Application, str]:
    """Check a client assertion (HS512, iss = sub = client_id, aud = this endpoint, exp) and burn its jti.

    Returns the application and the assertion's ``aud`` (the endpoint URL in the client's spelling).
    Raises ``OidcInvalidClientError`` for anything wrong, including a reused jti.
    """
    client_id = params.get("client_id", "")
    application = application_for_client(client_id)
    if application is None:
        raise OidcInvalidClientError()
    try:
        claims = jwt.decode(
            params.get("client_assertion", ""),
            _secret(application),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iss", "sub", "aud", "jti"], "verify_aud": False},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.PyJWTError:
        raise OidcInvalidClientError() from None
    if (
        claims["iss"] != client_id
        or claims["sub"] != client_id
        or not _aud_matches(claims["aud"], hosts=hosts, path=path)
    ):
        raise OidcInvalidClientError()
    jti = claims["jti"]
    if not isinstance(jti, str) or not 1 <= len(jti) <= 255:
        raise OidcInvalidClientError()
    _burn_jti(application=application, jti=jti, exp=claims["exp"])
    return application, claims["aud"]


def _burn_jti(*, application: Application, jti: str, exp: float) -> None:
    expires_at = datetime.fromtimestamp(float(exp), tz=timezone.get_current_timezone()) + timedelta(
        seconds=LEEWAY_SECONDS
    )
    try:
        with transaction.atomic():
            UsedClientAssertion.objects.create(application=application, jti=jti, expires_at=expires_at)
    except IntegrityError:
        raise OidcInvalidClientError("The provided client_assertion was already used.") from None


def authorize_request_verify(*, query: Mapping[str, str], hosts: set[str]) -> AuthorizeRequest:
    """Validate the authorize query and its request JWT; raises ``OidcInvalidRequestError`` with the reason.

    Nothing here may redirect: until this succeeds the redirect URI is not known to be registered.
    """
    if query.get("response_type") != "code":
        raise OidcInvalidRequestError("response_type must be code.")
    client_id = query.get("client_id", "")
    application = application_for_client(client_id)
    if application is None:
        raise OidcInvalidRequestError("Unknown client_id.")
    try:
        claims = jwt.decode(
            query.get("request", ""),
            _secret(application),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iss", "aud"], "verify_aud": False},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.PyJWTError:
        raise OidcInvalidRequestError("The request JWT is invalid or expired.") from None
    if claims["iss"] != client_id or claims.get("client_id") != client_id:
        raise OidcInvalidRequestError("The request JWT was not issued by this client.")
    if not _aud_matches(claims["aud"], hosts=hosts, path="") and not _aud_matches(claims["aud"], hosts=hosts, path="/"):
        raise OidcInvalidRequestError("The request JWT is for another audience.")
    if claims.get("response_type") != "code" or "openid" not in str(claims.get("scope", "")).split():
        raise OidcInvalidRequestError("The request JWT must ask for response_type code and scope openid.")
    redirect_uri = claims.get("redirect_uri")
    if (
        not isinstance(redirect_uri, str)
        or not RedirectUri.objects.filter(application=application, uri=redirect_uri).exists()
    ):
        raise OidcInvalidRequestError("The redirect_uri is not registered for this application.")
    if query.get("redirect_uri", redirect_uri) != redirect_uri:
        raise OidcInvalidRequestError("The redirect_uri parameter differs from the signed one.")
    state, username = claims.get("state"), claims.get("duo_uname")
    if not isinstance(state, str) or not 16 <= len(state) <= 1024:
        raise OidcInvalidRequestError("The state must be 16 to 1024 characters.")
    if not isinstance(username, str) or not 1 <= len(username) <= 150:
        raise OidcInvalidRequestError("The duo_uname must be 1 to 150 characters.")
    nonce = query.get("nonce") or claims.get("nonce") or ""
    if not isinstance(nonce, str) or len(nonce) > 1024:
        raise OidcInvalidRequestError("The nonce must be at most 1024 characters.")
    use_duo_code = claims.get("use_duo_code_attribute", True)
    return AuthorizeRequest(
        application=application,
        username=username,
        redirect_uri=redirect_uri,
        state=state,
        nonce=nonce,
        use_duo_code_attribute=use_duo_code in (True, "True", "true"),
    )


def id_token_issue(
    *, application: Application, issuer: str, username: str, nonce: str, approval: ApprovalRequest
) -> str:
    """The id_token for an approved login: HS512, ``iss`` = the token endpoint as the client spelled it.

    ``auth_result`` / ``auth_context`` describe the approval truthfully (only approved logins get here).
    """
    now = timezone.now()
    iat = int(now.timestamp())
    decided = approval.decided_at or now
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": application.integration_key,
        "sub": username,
        "iat": iat,
        "exp": iat + ID_TOKEN_LIFETIME_SECONDS,
        "auth_time": int(decided.timestamp()),
        "preferred_username": username,
        "auth_result": {"result": "allow", "status": "allow", "status_msg": "Login Successful"},
        "auth_context": {
            "txid": str(approval.pk),
            "timestamp": int(decided.timestamp()),
            "isotimestamp": decided.isoformat(),
            "event_type": "authentication",
            "result": "success",
            "reason": _REASON.get(
                approval.status_reason, _REASON["default"] if approval.factor == "push" else "valid_passcode"
            ),
            "factor": _FACTOR.get(approval.factor, approval.factor),
            "user": {"name": username, "key": str(approval.subscriber_id), "groups": []},
            "application": {"name": application.name, "key": application.integration_key},
            "access_device": {"ip": approval.ip, "hostname": approval.hostname or None, "browser": None},
            "auth_device": {"ip": None, "name": str(approval.decided_by) if approval.decided_by_id else None},
        },
    }
    if nonce:
        claims["nonce"] = nonce
    return jwt.encode(claims, _secret(application), algorithm=ALGORITHM)
