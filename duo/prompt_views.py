"""Universal Prompt (OIDC, what ``duo_universal.Client`` speaks): health check, authorize + hosted page, token."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.models import ApprovalRequest
from duo import oidc, passkey, prompt
from duo.exceptions import OidcInvalidRequestError, OidcUnsupportedGrantTypeError
from duo.models import PromptSession
from duo.responses import health_check_exception_handler, oauth_exception_handler
from mfa_server.crypto import random_token
from mfa_server.errors import DomainError
from mfa_server.net import client_ip
from policies.facts import request_facts
from tenants.branding import DEFAULT_PRIMARY, hex_color

COOKIE = "mfa_prompt"


class OidcApi(APIView):
    """Parameters from the query string merged with a form or multipart body (each SDK sends one of them)."""

    schema = None  # Duo's OIDC wire format, not part of our OpenAPI schema
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    parser_classes = [FormParser, MultiPartParser]
    renderer_classes = [JSONRenderer]

    def params(self) -> dict[str, str]:
        merged = dict(self.request.query_params.items())
        merged.update({k: v for k, v in self.request.data.items() if isinstance(v, str)})
        return merged

    def hosts(self) -> set[str]:
        return oidc.accepted_hosts(self.request.get_host())


class HealthCheckApi(OidcApi):
    def get_exception_handler(self) -> Callable[..., Response | None]:
        return health_check_exception_handler

    def post(self, request: Request) -> Response:
        oidc.client_assertion_verify(params=self.params(), path=request.path, hosts=self.hosts())
        return Response({"stat": "OK", "response": {"timestamp": int(timezone.now().timestamp())}})


class TokenApi(OidcApi):
    def get_exception_handler(self) -> Callable[..., Response | None]:
        return oauth_exception_handler

    def post(self, request: Request) -> Response:
        params = self.params()
        if params.get("grant_type") != "authorization_code":
            raise OidcUnsupportedGrantTypeError()
        if params.get("client_assertion_type") != oidc.ASSERTION_TYPE:
            raise OidcInvalidRequestError("client_assertion_type must be jwt-bearer.")
        application, token_url = oidc.client_assertion_verify(params=params, path=request.path, hosts=self.hosts())
        session = prompt.prompt_code_exchange(
            application_id=application.pk, code=params.get("code", ""), redirect_uri=params.get("redirect_uri", "")
        )
        id_token = oidc.id_token_issue(
            application=application,
            issuer=token_url,
            username=session.username,
            nonce=session.nonce,
            approval=session.approval,  # type: ignore[arg-type]  # exchange only returns approved sessions
        )
        body = {"id_token": id_token, "access_token": random_token(), "token_type": "Bearer", "expires_in": 3600}
        return Response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


# --- the hosted prompt page -----------------------------------------------------------------------


def _page(request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    """Render with a strict CSP: no script at all, styles only from the nonce'd block, forms post to us."""
    nonce = secrets.token_urlsafe(16)
    tenant = context.get("tenant")
    color = getattr(tenant, "brand_primary_color", "") or DEFAULT_PRIMARY
    context = {
        **context,
        "csp_nonce": nonce,
        "brand_color": color if hex_color.regex.match(color) else DEFAULT_PRIMARY,
        "brand_name": tenant.display_name if tenant else "Sign in",
    }
    response = render(request, template, context, status=status)
    response["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'nonce-{nonce}'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"  # no-referrer would make form posts send Origin: null
    return response


def _error_page(request: HttpRequest, message: str, *, status: int, tenant: Any = None) -> HttpResponse:
    return _page(request, "duo/error.html", {"message": message, "tenant": tenant}, status=status)


@require_GET
def authorize(request: HttpRequest) -> HttpResponse:
    """Validate the signed authorize request, bind a login session to this browser, and show the prompt."""
    try:
        authorize_request = oidc.authorize_request_verify(
            query=request.GET.dict(), hosts=oidc.accepted_hosts(request.get_host())
        )
    except DomainError as exc:
        return _error_page(request, exc.message, status=400)
    started = prompt.prompt_session_create(
        authorize=authorize_request, ip=client_ip(request), user_agent=request.headers.get("User-Agent", "")
    )
    response = HttpResponseRedirect(f"/oauth/v1/prompt/{started.session.pk}", status=303)
    response.set_cookie(
        COOKIE,
        started.browser_secret,
        max_age=prompt.SESSION_TTL_SECONDS,
        path=f"/oauth/v1/prompt/{started.session.pk}",
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response


@require_GET
def prompt_page(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """The prompt: send a push, show the number to type, wait (meta refresh), and redirect with a code on approval."""
    try:
        session = prompt.prompt_session_get(session_id=session_id, browser_secret=request.COOKIES.get(COOKIE, ""))
        approval = prompt.prompt_approval_current(session=session)
    except DomainError as exc:
        return _error_page(request, exc.message, status=403)
    if approval is not None and approval.status == ApprovalRequest.Status.APPROVED:
        redirect_url = prompt.prompt_code_issue(session=session)
        if redirect_url:
            return HttpResponseRedirect(redirect_url)
        return _error_page(request, "This login is already complete.", status=409, tenant=session.application.tenant)
    return _prompt(request, session, approval)


def _prompt(
    request: HttpRequest, session: PromptSession, approval: ApprovalRequest | None, *, error: str = ""
) -> HttpResponse:
    ip = client_ip(request)
    options = prompt.prompt_options(session=session, facts=request_facts(request, end_user_ip=ip))
    is_sms = approval is not None and approval.factor == ApprovalRequest.Factor.SMS
    pending = approval is not None and approval.is_pending
    context = {
        "tenant": session.application.tenant,
        "session": session,
        "application": session.application,
        "approval": approval,
        "options": options,
        "push_pending": pending and not is_sms,
        "sms_pending": pending and is_sms,
        "failed": approval is not None
        and not approval.is_pending
        and approval.factor == ApprovalRequest.Factor.PUSH
        and approval.status != ApprovalRequest.Status.CANCELLED,
        "error": error,
        "denied_url": prompt.prompt_denied_url(session=session),
    }
    return _page(request, "duo/prompt.html", context)


def _session_or_error(request: HttpRequest, session_id: UUID) -> PromptSession | HttpResponse:
    try:
        return prompt.prompt_session_get(session_id=session_id, browser_secret=request.COOKIES.get(COOKIE, ""))
    except DomainError as exc:
        return _error_page(request, exc.message, status=403)


@require_POST
def prompt_passcode(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """A passcode typed on the page: device passcode, bypass code, or the code just texted."""
    session = _session_or_error(request, session_id)
    if isinstance(session, HttpResponse):
        return session
    ip = client_ip(request)
    try:
        accepted = prompt.prompt_passcode_verify(
            session=session,
            passcode=request.POST.get("passcode", "")[:64],
            ip=ip,
            user_agent=request.headers.get("User-Agent", ""),
            facts=request_facts(request, end_user_ip=ip),
        )
    except DomainError as exc:
        return _prompt(request, session, prompt.prompt_approval_current(session=session), error=exc.message)
    if not accepted:
        error = "Incorrect passcode. Please try again."
        return _prompt(request, session, prompt.prompt_approval_current(session=session), error=error)
    return HttpResponseRedirect(f"/oauth/v1/prompt/{session_id}", status=303)


@require_POST
def prompt_cancel(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """ "Use another method": cancel the waiting push and show the other options."""
    session = _session_or_error(request, session_id)
    if isinstance(session, HttpResponse):
        return session
    prompt.prompt_push_cancel(session=session)
    return HttpResponseRedirect(f"/oauth/v1/prompt/{session_id}", status=303)


@require_POST
def prompt_sms(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """Text a code for this login, then show the page with the passcode form."""
    session = _session_or_error(request, session_id)
    if isinstance(session, HttpResponse):
        return session
    ip = client_ip(request)
    try:
        prompt.prompt_sms_send(
            session=session,
            ip=ip,
            user_agent=request.headers.get("User-Agent", ""),
            facts=request_facts(request, end_user_ip=ip),
        )
    except DomainError as exc:
        return _prompt(request, session, prompt.prompt_approval_current(session=session), error=exc.message)
    return HttpResponseRedirect(f"/oauth/v1/prompt/{session_id}", status=303)


def _json_error(exc: DomainError) -> JsonResponse:
    return JsonResponse({"code": exc.code, "detail": exc.message}, status=exc.http_status)


@require_POST
def prompt_passkey_options(request: HttpRequest, session_id: UUID) -> JsonResponse:
    """JSON for the page's script: the transaction and WebAuthn request options bound to approving it."""
    try:
        session = prompt.prompt_session_get(session_id=session_id, browser_secret=request.COOKIES.get(COOKIE, ""))
        ip = client_ip(request)
        challenge = passkey.prompt_passkey_begin(
            session=session,
            ip=ip,
            user_agent=request.headers.get("User-Agent", ""),
            facts=request_facts(request, end_user_ip=ip),
        )
    except DomainError as exc:
        return _json_error(exc)
    return JsonResponse({"txid": str(challenge.approval.pk), "publicKey": challenge.public_key})


@require_POST
def prompt_passkey(request: HttpRequest, session_id: UUID) -> JsonResponse:
    """The assertion from ``navigator.credentials.get``: approves the login (then the page redirects)."""
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):  # a JSON array or scalar: no .get(), and no 500 for it
            raise ValueError("body")
        approval_id = UUID(str(body.get("txid", "")))
        credential = body.get("credential")
        if not isinstance(credential, dict):
            raise ValueError("credential")
    except (ValueError, TypeError):
        return JsonResponse({"code": "invalid_input", "detail": "txid and credential are required."}, status=400)
    try:
        session = prompt.prompt_session_get(session_id=session_id, browser_secret=request.COOKIES.get(COOKIE, ""))
        approval = passkey.prompt_passkey_finish(
            session=session, approval_id=approval_id, credential=credential, ip=client_ip(request)
        )
    except DomainError as exc:
        return _json_error(exc)
    return JsonResponse({"status": approval.status})


@require_POST
def prompt_push(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """Send (or re-send after a failure) the push of this login, then back to the prompt page."""
    try:
        session = prompt.prompt_session_get(session_id=session_id, browser_secret=request.COOKIES.get(COOKIE, ""))
        ip = client_ip(request)
        prompt.prompt_push_start(
            session=session,
            ip=ip,
            user_agent=request.headers.get("User-Agent", ""),
            facts=request_facts(request, end_user_ip=ip),
        )
    except DomainError as exc:
        return _error_page(request, exc.message, status=403)
    return HttpResponseRedirect(f"/oauth/v1/prompt/{session_id}", status=303)
