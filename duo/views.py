"""Duo Auth API v2 (``/auth/v2/*``): what ``duo_client.Auth`` speaks. Thin views over duo services/selectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import selectors as approval_selectors
from approvals.models import Application
from approvals.services import LoginContext
from approvals.wait_permits import waiting_permit
from duo import selectors, serializers, services
from duo.authentication import DuoSignedRequestAuthentication
from duo.exceptions import DuoInvalidParameterError, DuoLogoNotFoundError, DuoMissingParameterError
from duo.identifiers import duo_user_id, username_for
from duo.logo import brand_logo_png
from duo.responses import duo_exception_handler, duo_ok
from policies.facts import RequestFacts, request_facts
from policies.permissions import RelyingConnectionPermission


class DuoApi(APIView):
    """Signed (sig v2 form / v4-v5 JSON), Duo envelope on success and failure.

    Kept out of our OpenAPI schema: the wire format is Duo's own (docs/duo.md, specs/duo-compat.md).
    """

    schema = None
    authentication_classes = [DuoSignedRequestAuthentication]
    # The same connection locks as the native relying API: source networks and service-to-service mTLS.
    permission_classes = [RelyingConnectionPermission]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self) -> Callable[..., Response | None]:
        return duo_exception_handler

    @property
    def application(self) -> Application:
        return self.request.user  # type: ignore[return-value]  # set by DuoSignedRequestAuthentication

    def params(self) -> Any:
        """GET/DELETE parameters come from the query string, POST parameters from the form or JSON body."""
        if self.request.method in ("GET", "DELETE"):
            return self.request.query_params
        return self.request.data


class PingApi(DuoApi):
    """Unsigned liveness and clock (a signed ping is accepted too; its signature is ignored)."""

    authentication_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return duo_ok({"time": int(timezone.now().timestamp())})


class CheckApi(DuoApi):
    def get(self, request: Request) -> Response:
        return duo_ok({"time": int(timezone.now().timestamp())})


class LogoApi(DuoApi):
    def get(self, request: Request) -> HttpResponse:
        png = brand_logo_png(self.application.tenant.brand_primary_color)
        if png is None:
            raise DuoLogoNotFoundError()
        return HttpResponse(png, content_type="image/png")


class EnrollApi(DuoApi):
    def post(self, request: Request) -> Response:
        data = serializers.EnrollInputSerializer(data=self.params())
        data.is_valid(raise_exception=True)
        subscriber, issued = services.duo_enroll(
            application=self.application,
            username=data.validated_data.get("username"),
            valid_secs=data.validated_data["valid_secs"],
        )
        return duo_ok(
            {
                "activation_barcode": issued.qr_url,
                "activation_code": issued.activation_code,
                "activation_url": issued.activation_url,
                "expiration": int(issued.enrollment.expires_at.timestamp()),
                "user_id": duo_user_id(subscriber.pk),
                "username": subscriber.username,
            }
        )


class EnrollStatusApi(DuoApi):
    def post(self, request: Request) -> Response:
        data = serializers.EnrollStatusInputSerializer(data=self.params())
        data.is_valid(raise_exception=True)
        return duo_ok(selectors.duo_enroll_status(application=self.application, **data.validated_data))


class PreauthApi(DuoApi):
    def post(self, request: Request) -> Response:
        data = serializers.PreauthInputSerializer(data=self.params())
        data.is_valid(raise_exception=True)
        username = username_for(
            application=self.application,
            username=data.validated_data.get("username"),
            user_id=data.validated_data.get("user_id"),
        )
        facts = request_facts(request, end_user_ip=data.validated_data["ipaddr"])
        response = selectors.duo_preauth(application=self.application, username=username, facts=facts)
        if data.validated_data["client_supports_verified_push"] and response["result"] == "auth":
            response.update(
                services.verified_push_fields(
                    application=self.application, username=username, request_digest=request.auth
                )
            )
        return duo_ok(response)


class AuthApi(DuoApi):
    def post(self, request: Request) -> Response:
        data = serializers.AuthInputSerializer(data=self.params())
        data.is_valid(raise_exception=True)
        values = data.validated_data
        username = username_for(
            application=self.application, username=values.get("username"), user_id=values.get("user_id")
        )
        facts = request_facts(request, end_user_ip=values["ipaddr"])
        if values["factor"] not in ("auto", "push"):
            return duo_ok(self._code_factor(username=username, values=values, request_digest=request.auth, facts=facts))
        with waiting_permit(self.application.pk, needed=not values["async"]):  # taken before anything is created
            approval = services.duo_push_start(
                application=self.application,
                push=services.PushRequest(
                    username=username,
                    device=values["device"],
                    txid=values["txid"],
                    ip=values["ipaddr"],
                    hostname=values["hostname"],
                    login_type=values["type"],
                    display_username=values["display_username"],
                    pushinfo=values["pushinfo"],
                    facts=facts,
                ),
                request_digest=request.auth,
            )
            if values["async"]:
                return duo_ok({"txid": str(approval.pk)})
            approval = approval_selectors.approval_request_wait(
                approval=approval, max_wait_seconds=settings.MFA_SYNC_AUTH_MAX_WAIT_SECONDS
            )
        return duo_ok(selectors.duo_status(approval))

    def _code_factor(
        self, *, username: str, values: dict[str, Any], request_digest: str, facts: RequestFacts
    ) -> dict[str, Any]:
        """``passcode`` is checked at once; ``sms`` texts a code (answered like Duo: deny / sent).

        ``facts`` are the connection's, as for a push: without them the policy's network and certificate
        rules fail closed and would refuse every code login of a locked-down application.
        """
        context = LoginContext(ip=values["ipaddr"], hostname=values["hostname"], login_type=values["type"])
        if values["factor"] == "passcode":
            if not values["passcode"]:
                raise DuoMissingParameterError(detail="passcode")
            return selectors.duo_status(
                services.duo_passcode_verify(
                    application=self.application,
                    username=username,
                    passcode=values["passcode"],
                    context=context,
                    request_digest=request_digest,
                    request_facts=facts,
                )
            )
        if values["factor"] == "sms":
            approval = services.duo_sms_start(
                application=self.application,
                username=username,
                context=context,
                request_digest=request_digest,
                request_facts=facts,
            )
            return {"txid": str(approval.pk)} if values["async"] else selectors.duo_status(approval)
        raise DuoInvalidParameterError(detail=f"factor {values['factor']} is not supported")


class AuthStatusApi(DuoApi):
    """Long-poll: answers at once when decided, else after the next change or ``MFA_STATUS_MAX_WAIT_SECONDS``."""

    def get(self, request: Request) -> Response:
        data = serializers.AuthStatusInputSerializer(data=self.params())
        data.is_valid(raise_exception=True)
        approval = approval_selectors.approval_request_get_for_application(
            application=self.application, approval_id=data.validated_data["txid"]
        )
        if approval.factor == approval.Factor.PUSH and approval.is_pending:
            with waiting_permit(self.application.pk):
                approval = approval_selectors.approval_request_wait(
                    approval=approval, max_wait_seconds=settings.MFA_STATUS_MAX_WAIT_SECONDS
                )
        return duo_ok(selectors.duo_status(approval))
