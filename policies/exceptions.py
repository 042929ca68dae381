"""Refusals by the policy engine, each with a stable code. ``extra`` carries the deciding rule and a safe reason."""

from __future__ import annotations

from mfa_server.errors import DomainError, RateLimitedError


class PolicyDeniedError(DomainError):
    """A policy rule refused (network, client certificate, unknown user, new device, lockout)."""

    code = "policy_denied"
    http_status = 403
    default_message = "This login is not allowed by policy."


class PushRateLimitedError(RateLimitedError):
    """Too many pushes, or a cool-down after a denial: try again after ``retry_after`` seconds."""

    code = "push_rate_limited"
    default_message = "Too many push requests for this user; try again later."
