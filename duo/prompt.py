"""The Universal Prompt login: a browser-bound session, its push, and the single-use code it yields.

A code exists only for a session whose transaction was approved; it lives ``CODE_TTL_SECONDS`` and is
stored as a keyed hash. Exchanging it is one conditional UPDATE, so it works exactly once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode
from uuid import UUID

from django.db.models import Q
from django.utils import timezone

from approvals import selectors as approval_selectors
from approvals.exceptions import ApprovalAlreadyDecidedError
from approvals.models import ApprovalRequest
from approvals.services import LoginContext, approval_request_cancel, approval_request_create
from audit.services import audit_record
from devices.models import Device
from duo import services as duo_services
from duo.exceptions import OidcInvalidGrantError
from duo.models import PromptSession
from duo.oidc import AuthorizeRequest
from mfa_server.crypto import hash_token, random_token, tokens_equal
from mfa_server.errors import DomainError
from policies.facts import RequestFacts
from policies.selectors import effective_policy

SESSION_TTL_SECONDS = 600
CODE_TTL_SECONDS = 60
Status = ApprovalRequest.Status


class PromptSessionInvalidError(DomainError):
    code = "prompt_session_invalid"
    http_status = 403
    default_message = "This login page has expired or belongs to another browser. Start the login again."


@dataclass(frozen=True)
class StartedPrompt:
    session: PromptSession
    browser_secret: str


def prompt_session_create(*, authorize: AuthorizeRequest, ip: str | None, user_agent: str) -> StartedPrompt:
    """Record a validated authorize request; the browser gets ``browser_secret`` in a cookie."""
    now = timezone.now()
    secret = random_token()
    session = PromptSession.objects.create(
        application=authorize.application,
        username=authorize.username,
        redirect_uri=authorize.redirect_uri,
        state=authorize.state,
        nonce=authorize.nonce,
        use_duo_code_attribute=authorize.use_duo_code_attribute,
        browser_hash=hash_token(secret),
        ip=ip,
        user_agent=user_agent[:512],
        created_at=now,
        expires_at=now + timedelta(seconds=SESSION_TTL_SECONDS),
    )
    return StartedPrompt(session=session, browser_secret=secret)


def prompt_session_get(*, session_id: UUID, browser_secret: str) -> PromptSession:
    """The unexpired session this browser started; raises ``PromptSessionInvalidError``."""
    session = (
        PromptSession.objects.select_related("application__tenant", "approval")
        .filter(pk=session_id, expires_at__gt=timezone.now())
        .first()
    )
    if session is None or not browser_secret or not tokens_equal(hash_token(browser_secret), session.browser_hash):
        raise PromptSessionInvalidError()
    return session


def prompt_approval_current(*, session: PromptSession) -> ApprovalRequest | None:
    """The session's latest transaction, timed out first if its deadline passed."""
    if session.approval_id is None:
        return None
    return approval_selectors.approval_request_get_for_application(
        application=session.application, approval_id=session.approval_id
    )


def prompt_push_start(
    *, session: PromptSession, ip: str | None, user_agent: str, facts: RequestFacts
) -> ApprovalRequest:
    """Send a push for this login (number matching per policy); a pending one is reused, never duplicated.

    Raises approvals' ``SubscriberUnknownError`` / ``SubscriberDeniedError``.
    """
    current = prompt_approval_current(session=session)
    if current is not None and (
        current.status == Status.APPROVED or (current.is_pending and current.factor == ApprovalRequest.Factor.PUSH)
    ):
        return current
    approval = approval_request_create(
        application=session.application,
        username=session.username,
        context=_context(session, ip, user_agent),
        request_facts=facts,
    )
    _attach(session, approval)
    return approval


@dataclass(frozen=True)
class PromptOptions:
    """What the page offers: ``result`` as in preauth (auth / allow / deny / enroll) and the usable factors."""

    result: str
    push: bool
    passcode: bool
    sms: bool
    passkey: bool


def prompt_options(*, session: PromptSession, facts: RequestFacts) -> PromptOptions:
    """The factors the policy allows and this user holds (the same answer ``/preauth`` gives)."""
    found = approval_selectors.preauth(application=session.application, username=session.username, facts=facts)
    factors = set(found.factors)
    return PromptOptions(
        result=found.result,
        push="push" in factors or found.result == "allow",
        passcode=bool(factors & {"passcode", "bypass_code"}),
        sms="sms" in factors,
        passkey=found.result == "auth"
        and effective_policy(application=session.application).allows("webauthn")
        and passkey_device(session) is not None,
    )


def passkey_device(session: PromptSession) -> Device | None:
    """The user's first active approver-web-app device (a WebAuthn platform credential), if any."""
    return (
        Device.objects.filter(
            subscriber__tenant_id=session.application.tenant_id,
            subscriber__username=session.username,
            kind=Device.Kind.WEBAUTHN,
            status=Device.Status.ACTIVE,
        )
        .order_by("pk")
        .first()
    )


def _context(session: PromptSession, ip: str | None, user_agent: str) -> LoginContext:
    return LoginContext(
        ip=ip,
        user_agent=user_agent[:512],
        display_text=f"Sign in to {session.application.name}",
        login_type="Universal Prompt",
    )


def _attach(session: PromptSession, approval: ApprovalRequest | None) -> None:
    """Make ``approval`` the login's transaction; a different one still pending (a push nobody answered) is
    cancelled, so it cannot be approved on the phone after the user moved on."""
    if approval is None:
        return
    previous = session.approval_id
    PromptSession.objects.filter(pk=session.pk).update(approval=approval)
    session.approval = approval
    if previous and previous != approval.pk:
        with contextlib.suppress(ApprovalAlreadyDecidedError):
            approval_request_cancel(application=session.application, approval_id=previous)


def prompt_push_cancel(*, session: PromptSession) -> None:
    """The user chose another method while the push waited: cancel it (a decided one stays as it is)."""
    current = prompt_approval_current(session=session)
    if current is not None and current.is_pending:
        with contextlib.suppress(ApprovalAlreadyDecidedError):
            approval_request_cancel(application=session.application, approval_id=current.pk)


def prompt_passcode_verify(
    *, session: PromptSession, passcode: str, ip: str | None, user_agent: str, facts: RequestFacts
) -> bool:
    """Check a passcode typed on the page (device TOTP, bypass code, or the SMS code just sent).

    ``facts`` are the browser connection's, as for the push (the policy's locks fail closed without them).

    True when accepted (the page then redirects with a code); a wrong passcode is counted by fallbacks.
    Raises fallbacks' / approvals' errors (not allowed, back-off, locked).
    """
    approval = duo_services.duo_passcode_verify(
        application=session.application,
        username=session.username,
        passcode=passcode,
        context=_context(session, ip, user_agent),
        request_digest=None,
        request_facts=facts,
    )
    if approval is not None and approval.status == Status.APPROVED:
        _attach(session, approval)
        return True
    return False


def prompt_sms_send(*, session: PromptSession, ip: str | None, user_agent: str, facts: RequestFacts) -> ApprovalRequest:
    """Text this user a code for the login (fallbacks' SMS limits apply); it is typed into the passcode form."""
    approval = duo_services.duo_sms_start(
        application=session.application,
        username=session.username,
        context=_context(session, ip, user_agent),
        request_digest=None,
        request_facts=facts,
    )
    _attach(session, approval)
    return approval


def prompt_code_issue(*, session: PromptSession) -> str | None:
    """The redirect URL carrying a fresh code, once, and only if the session's transaction is approved."""
    approval = prompt_approval_current(session=session)
    if approval is None or approval.status != Status.APPROVED:
        return None
    code = random_token()
    now = timezone.now()
    issued = PromptSession.objects.filter(pk=session.pk, code_hash__isnull=True).update(
        code_hash=hash_token(code), code_expires_at=now + timedelta(seconds=CODE_TTL_SECONDS)
    )
    if not issued:
        return None
    audit_record(
        kind="duo.code_issued",
        tenant_id=session.application.tenant_id,
        actor=f"app:{session.application.integration_key}",
        subscriber_id=approval.subscriber_id,
        approval_id=approval.pk,
        ip=session.ip,
    )
    name = "duo_code" if session.use_duo_code_attribute else "code"
    return _with_query(session.redirect_uri, {name: code, "state": session.state})


def prompt_denied_url(*, session: PromptSession) -> str:
    """Where "back to the application" goes after a failed login: an OAuth ``access_denied`` error, no code."""
    return _with_query(
        session.redirect_uri,
        {"error": "access_denied", "error_description": "The login was not approved.", "state": session.state},
    )


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def prompt_code_exchange(*, application_id: int, code: str, redirect_uri: str) -> PromptSession:
    """Consume a code exactly once (same application and redirect URI, unexpired); raises ``OidcInvalidGrantError``."""
    now = timezone.now()
    claim = PromptSession.objects.filter(
        Q(code_hash=hash_token(code)) & Q(code_used_at__isnull=True) & Q(code_expires_at__gt=now),
        application_id=application_id,
        redirect_uri=redirect_uri,
    )
    session = claim.select_related("application", "approval__subscriber", "approval__decided_by").first()
    if session is None or session.approval is None or not claim.update(code_used_at=now):
        raise OidcInvalidGrantError()
    audit_record(
        kind="duo.code_exchanged",
        tenant_id=session.application.tenant_id,
        actor=f"app:{session.application.integration_key}",
        subscriber_id=session.approval.subscriber_id,
        approval_id=session.approval_id,
    )
    return session
