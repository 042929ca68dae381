"""Approving a Universal Prompt login with a passkey on the very device that is logging in.

The passkey is the user's approver-web-app credential (WebAuthn platform authenticator, UV required). The
assertion's challenge is bound to the login's own transaction and to ``approve``; the transaction is
decided through approvals' ``approval_request_decide_webauthn`` exactly like a decision in the web app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from approvals.models import ApprovalRequest
from approvals.services import approval_request_decide_webauthn
from devices import credentials
from duo import prompt
from duo.models import PromptSession
from duo.prompt import passkey_device
from mfa_server.errors import DomainError
from policies.facts import RequestFacts


class PasskeyUnavailableError(DomainError):
    code = "passkey_unavailable"
    http_status = 409
    default_message = "No passkey is registered for this user, or this login has no matching request."


@dataclass(frozen=True)
class PasskeyChallenge:
    approval: ApprovalRequest
    public_key: dict[str, Any]


def prompt_passkey_begin(
    *, session: PromptSession, ip: str | None, user_agent: str, facts: RequestFacts
) -> PasskeyChallenge:
    """Start (or reuse) the login's transaction and return assertion options bound to it and to approve.

    Raises ``PasskeyUnavailableError`` and what ``prompt_push_start`` raises.
    """
    device = passkey_device(session)
    if device is None:
        raise PasskeyUnavailableError()
    approval = prompt.prompt_push_start(session=session, ip=ip, user_agent=user_agent, facts=facts)
    options = credentials.assertion_options(device=device, approval_id=approval.pk, decision="approve")
    return PasskeyChallenge(approval=approval, public_key=options)


def prompt_passkey_finish(
    *, session: PromptSession, approval_id: UUID, credential: dict[str, Any], ip: str | None
) -> ApprovalRequest:
    """Approve the login's own transaction with the passkey assertion (UV, bound challenge, sign count).

    The number is the page's own: the user is on the very device that shows it. Raises
    ``PasskeyUnavailableError`` and what ``approval_request_decide_webauthn`` raises (all audited).
    """
    device = passkey_device(session)
    approval = session.approval
    if device is None or approval is None or session.approval_id != approval_id:
        raise PasskeyUnavailableError()
    return approval_request_decide_webauthn(
        device=device,
        approval_id=approval.pk,
        decision="approve",
        number=approval.number,
        credential=credential,
        client_ip=ip,
    )
