"""Domain errors raised only by the Duo-compatible surface (codes map to Duo's in ``duo.responses``)."""

from __future__ import annotations

from mfa_server.errors import DomainError


class DuoCredentialsMissingError(DomainError):
    code = "duo_credentials_missing"
    http_status = 401
    default_message = "Missing request credentials"


class DuoIntegrationKeyInvalidError(DomainError):
    code = "duo_integration_key_invalid"
    http_status = 401
    default_message = "Invalid integration key in request credentials"


class DuoMissingParameterError(DomainError):
    code = "duo_missing_parameter"
    default_message = "Missing required request parameters"


class DuoInvalidParameterError(DomainError):
    code = "duo_invalid_parameter"
    default_message = "Invalid request parameters"


class DuoVerifiedPushRequiredError(DomainError):
    """The policy needs number matching and the client neither opted into Verified Push nor may get a plain push."""

    code = "duo_verified_push_required"
    default_message = "Invalid request parameters"


class DuoLogoNotFoundError(DomainError):
    code = "duo_logo_not_found"
    http_status = 404
    default_message = "Resource not found"


class OidcError(DomainError):
    """An OAuth 2.0 / OIDC error of the Universal Prompt endpoints: rendered ``{"error", "error_description"}``."""

    code = "invalid_request"
    oauth_error = "invalid_request"


class OidcInvalidClientError(OidcError):
    code = "invalid_client"
    oauth_error = "invalid_client"
    http_status = 401
    default_message = "The provided client_assertion was invalid."


class OidcInvalidGrantError(OidcError):
    code = "invalid_grant"
    oauth_error = "invalid_grant"
    default_message = "The authorization code is invalid, expired or already used."


class OidcUnsupportedGrantTypeError(OidcError):
    code = "unsupported_grant_type"
    oauth_error = "unsupported_grant_type"
    default_message = "Only grant_type=authorization_code is supported."


class OidcInvalidRequestError(OidcError):
    code = "invalid_request"
    oauth_error = "invalid_request"
    default_message = "The request is missing a parameter or is malformed."
