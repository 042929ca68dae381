"""Fallback endpoints: thin views over ``fallbacks.services`` and ``fallbacks.selectors``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from approvals.api.serializers import ApprovalStatusSerializer, login_context
from approvals.api.views import RelyingApi
from approvals.selectors import approval_request_get_for_application
from devices.api.views import DeviceApi
from fallbacks import selectors, services
from fallbacks.api.authentication import DeviceTokenOrCookieAuthentication
from fallbacks.api.serializers import (
    CodeStartInputSerializer,
    FallbackInputSerializer,
    PasscodeInputSerializer,
    PasscodeSecretOutputSerializer,
    SessionCodeOutputSerializer,
    VerifyInputSerializer,
)
from fallbacks.codes import TOTP_DIGITS, TOTP_INTERVAL, totp_provisioning_uri
from mfa_server.net import client_ip
from mfa_server.shared_serializers import represent
from policies.facts import request_facts

ERRORS = (
    "Errors are problem details with a stable `code`: factor_not_allowed (403), factor_unavailable (409), "
    "code_invalid (400, `fields.attempts_left`), code_attempts_exceeded (400, the transaction is denied), "
    "code_expired / code_not_issued (409), code_backoff / rate_limited (429 + Retry-After), "
    "sms_cooldown / sms_subscriber_cap / sms_destination_cap / sms_tenant_cap (429), sms_country_not_allowed (403), "
    "sms_delivery_failed (502), subscriber_denied (403), policy_denied (403, the policy's network / certificate "
    "locks), approval_expired / approval_already_decided (409)."
)


def _status(approval: Any, status: int = 200) -> Response:
    return Response(represent(ApprovalStatusSerializer, approval), status=status)


class FallbackRequestApi(RelyingApi):
    @extend_schema(
        summary="Fall back to a code for a pending transaction",
        description="Sends a fresh single-use code by SMS, or to the user's enrolled devices over their own "
        "channel (`session_code`; never in this response). A new code replaces the previous one. " + ERRORS,
        request=FallbackInputSerializer,
        responses=ApprovalStatusSerializer,
    )
    def post(self, request: Request, txid: UUID) -> Response:
        data = FallbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        approval = approval_request_get_for_application(application=self.application, approval_id=txid)
        approval = services.code_send(
            application=self.application,
            approval=approval,
            factor=data.validated_data["factor"],
            client_ip=client_ip(request),
        )
        return _status(approval)


class CodeStartApi(RelyingApi):
    @extend_schema(
        summary="Start a transaction with an SMS or session code (no push)",
        description="Creates a transaction and sends its code; verify it with `POST /api/v1/auth/{txid}/verify`. "
        + ERRORS,
        request=CodeStartInputSerializer,
        responses={201: ApprovalStatusSerializer, 200: ApprovalStatusSerializer},
    )
    def post(self, request: Request) -> Response:
        data = CodeStartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        context = login_context(data.validated_data)
        approval = services.code_start(
            application=self.application,
            username=data.validated_data["username"],
            factor=data.validated_data["factor"],
            context=context,
            request_digest=request.auth,
            client_ip=client_ip(request),
            request_facts=request_facts(request, end_user_ip=context.ip),
        )
        return _status(approval, 201 if approval.is_pending else 200)


class CodeVerifyApi(RelyingApi):
    @extend_schema(
        summary="Verify the code the user typed",
        description="A right code approves the transaction (`result: allow`), once. " + ERRORS,
        request=VerifyInputSerializer,
        responses=ApprovalStatusSerializer,
    )
    def post(self, request: Request, txid: UUID) -> Response:
        data = VerifyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        approval = approval_request_get_for_application(application=self.application, approval_id=txid)
        approval = services.code_verify(
            approval=approval, code=data.validated_data["code"], client_ip=client_ip(request)
        )
        return _status(approval)


class PasscodeApi(RelyingApi):
    @extend_schema(
        summary="Log in with a passcode (device TOTP) or a bypass code",
        description="Creates a transaction decided at once: `approved`, or `denied` with `status_reason` "
        "passcode_invalid / passcode_reused / bypass_code_invalid. " + ERRORS,
        request=PasscodeInputSerializer,
        responses=ApprovalStatusSerializer,
    )
    def post(self, request: Request) -> Response:
        data = PasscodeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        context = login_context(data.validated_data)
        approval = services.passcode_verify(
            application=self.application,
            username=data.validated_data["username"],
            passcode=data.validated_data["passcode"],
            context=context,
            request_digest=request.auth,
            client_ip=client_ip(request),
            request_facts=request_facts(request, end_user_ip=context.ip),
        )
        return _status(approval)


class PasscodeSecretApi(DeviceApi):
    @extend_schema(
        summary="Provision this device's passcode (TOTP) secret, once",
        description="Call right after activation; a second call answers 409 passcode_secret_already_provisioned.",
        request=None,
        responses={201: PasscodeSecretOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        secret = services.passcode_secret_provision(device=self.device)
        issuer = self.device.subscriber.tenant.display_name
        output = {
            "secret": secret,
            "otpauth_uri": totp_provisioning_uri(secret=secret, name=self.device.subscriber.username, issuer=issuer),
            "digits": TOTP_DIGITS,
            "period": TOTP_INTERVAL,
            "algorithm": "SHA1",
        }
        return Response(PasscodeSecretOutputSerializer(output).data, status=201)


class SessionCodesApi(DeviceApi):
    # Phones and the reference client send their token; the approver web client its session cookie.
    authentication_classes = [DeviceTokenOrCookieAuthentication]

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if response.status_code == 401:  # never a Basic challenge: browsers would pop up a password dialog
            response["WWW-Authenticate"] = 'Device realm="mfa"'
        return response

    @extend_schema(
        summary="Session codes for this user's pending logins",
        description='Also pushed live over the WebSocket as `{"type": "session.code", ...}`. '
        "Authenticated by the device token, or by the approver web client's session cookie.",
        responses=SessionCodeOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        active = selectors.session_codes_for_device(device=self.device)
        return Response(SessionCodeOutputSerializer(active, many=True).data)
