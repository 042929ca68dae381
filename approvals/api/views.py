"""The relying-service API: signed server-to-server calls after the password step."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import selectors, services
from approvals.api.authentication import SignedRequestAuthentication
from approvals.api.serializers import (
    ApprovalStatusSerializer,
    AuthInputSerializer,
    PreauthInputSerializer,
    PreauthOutputSerializer,
    StatusQuerySerializer,
    login_context,
)
from approvals.models import Application
from approvals.wait_permits import waiting_permit
from mfa_server.shared_serializers import represent, validated
from policies.facts import request_facts
from policies.permissions import RelyingConnectionPermission


class RelyingApi(APIView):
    authentication_classes = [SignedRequestAuthentication]
    permission_classes = [RelyingConnectionPermission]  # the policy's mTLS / source-network locks
    # JSON for signature v4/v5 clients; form bodies for Duo-style signature v2 clients (which sign the form).
    parser_classes = [JSONParser, FormParser]

    @property
    def application(self) -> Application:
        return self.request.user  # type: ignore[return-value]  # set by SignedRequestAuthentication


class CheckApi(RelyingApi):
    @extend_schema(summary="Check credentials and clock", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({"time": int(timezone.now().timestamp()), "application": self.application.name})

    @extend_schema(
        summary="Check credentials and clock (POST, e.g. a signature v2 form body)", request=None, responses={200: dict}
    )
    def post(self, request: Request) -> Response:
        return self.get(request)


class PreauthApi(RelyingApi):
    @extend_schema(
        summary="What to do with this user", request=PreauthInputSerializer, responses=PreauthOutputSerializer
    )
    def post(self, request: Request) -> Response:
        data = PreauthInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = selectors.preauth(
            application=self.application,
            username=data.validated_data["username"],
            facts=request_facts(request, end_user_ip=data.validated_data.get("ip")),
        )
        return Response(PreauthOutputSerializer(result).data)


class AuthApi(RelyingApi):
    @extend_schema(
        summary="Start a push approval",
        description="Creates a transaction and notifies the user's devices. Show `number` on the login page. "
        "With `async: false` the call waits (bounded) for the decision; when too many calls of this application "
        "already wait, it is refused before anything is created (429 `too_many_waiting_calls`, Retry-After).",
        request=AuthInputSerializer,
        responses={201: ApprovalStatusSerializer, 200: ApprovalStatusSerializer},
    )
    def post(self, request: Request) -> Response:
        data = validated(AuthInputSerializer, request.data)
        context = login_context(data)
        with waiting_permit(self.application.pk, needed=not data["async"]):  # taken before anything is created
            approval = services.approval_request_create(
                application=self.application,
                username=data["username"],
                context=context,
                request_digest=request.auth,
                request_facts=request_facts(request, end_user_ip=context.ip),
            )
            if not data["async"]:
                approval = selectors.approval_request_wait(
                    approval=approval, max_wait_seconds=settings.MFA_SYNC_AUTH_MAX_WAIT_SECONDS
                )
        return Response(represent(ApprovalStatusSerializer, approval), status=201 if approval.is_pending else 200)


class AuthStatusApi(RelyingApi):
    @extend_schema(
        summary="Status of a transaction (long-poll with ?wait=seconds)",
        description="With `wait`, a pending transaction's call returns on its decision or after `wait` seconds; "
        "when too many calls of this application already wait: 429 `too_many_waiting_calls` (Retry-After).",
        parameters=[StatusQuerySerializer],
        responses=ApprovalStatusSerializer,
    )
    def get(self, request: Request, txid: UUID) -> Response:
        query = validated(StatusQuerySerializer, request.query_params)
        approval = selectors.approval_request_get_for_application(application=self.application, approval_id=txid)
        wait = min(query["wait"], settings.MFA_STATUS_MAX_WAIT_SECONDS)
        if wait and approval.is_pending:
            with waiting_permit(self.application.pk):
                approval = selectors.approval_request_wait(approval=approval, max_wait_seconds=wait)
        return Response(represent(ApprovalStatusSerializer, approval))


class AuthCancelApi(RelyingApi):
    @extend_schema(summary="Cancel a pending transaction", request=None, responses=ApprovalStatusSerializer)
    def post(self, request: Request, txid: UUID) -> Response:
        approval = services.approval_request_cancel(application=self.application, approval_id=txid)
        return Response(represent(ApprovalStatusSerializer, approval))
