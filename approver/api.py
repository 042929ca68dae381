"""The approver web app's JSON API: thin views over devices/approvals services.

Registration endpoints need only CSRF; everything else needs the device session cookie (and CSRF on
unsafe methods). Errors are RFC 9457 problem details with a stable ``code`` (mfa_server.api).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from uuid import UUID

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import selectors as approval_selectors
from approvals import services as approval_services
from approvals.services import relying_result
from approver import selectors
from approver.authentication import CsrfOnly, DeviceCookieAuthentication, clear_session_cookie, set_session_cookie
from approver.serializers import (
    ApprovalDetailSerializer,
    DecisionInputSerializer,
    DecisionOutputSerializer,
    DeviceSerializer,
    HistorySerializer,
    OptionsInputSerializer,
    PushSubscriptionInputSerializer,
    RegisterInputSerializer,
    RegisterOptionsInputSerializer,
    RemoveInputSerializer,
    RenameInputSerializer,
)
from devices import credentials
from devices import services as device_services
from devices.delivery.webpush import vapid_public_key
from devices.models import Device, Enrollment
from mfa_server.net import client_ip
from mfa_server.shared_serializers import represent
from policies.permissions import DeviceConnectionPermission, enforce_web_client
from tenants.branding import brand_for


class ApproverApi(APIView):
    """Base of the approver API views: private to the page, so kept out of the public OpenAPI schema."""

    schema = None

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if response.status_code == 401:
            # The shared handler answers 401 with a Basic challenge, which makes browsers pop up a password
            # dialog (and stalls fetch() in headless ones). The page's credential is its cookie.
            response["WWW-Authenticate"] = 'Cookie realm="approver"'
        return response


def _web_client_check(request: Request) -> Callable[[Enrollment], None]:
    """The tenant policy's connection locks (certificate, networks) for the browser activating a phone."""

    def check(enrollment: Enrollment) -> None:
        subscriber = enrollment.subscriber
        enforce_web_client(request, tenant_id=subscriber.tenant_id, username=subscriber.username)

    return check


class RegisterOptionsApi(ApproverApi):
    """Creation options for a valid activation code (the code is not consumed here)."""

    authentication_classes = [CsrfOnly]

    def post(self, request: Request) -> Response:
        data = RegisterOptionsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enrollment, options = device_services.device_registration_begin(
            code=data.validated_data["code"], client_ip=client_ip(request), connection_check=_web_client_check(request)
        )
        return Response(
            {
                "publicKey": options,
                "username": enrollment.subscriber.username,
                "brand": asdict(brand_for(enrollment.subscriber.tenant)),
            }
        )


class RegisterApi(ApproverApi):
    """Verify the new credential, consume the code, and start the device session (HttpOnly cookie)."""

    authentication_classes = [CsrfOnly]

    def post(self, request: Request) -> Response:
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activated = device_services.device_activate_webauthn(
            code=data.validated_data["code"],
            credential=data.validated_data["credential"],
            name=data.validated_data["name"],
            platform="web",
            client_ip=client_ip(request),
            connection_check=_web_client_check(request),
        )
        response = Response(DeviceSerializer(activated.device).data, status=201)
        set_session_cookie(response, activated.device_token)
        return response


class DeviceSessionApi(ApproverApi):
    """A view of the device session; the tenant policy's connection locks (certificate, networks) apply."""

    authentication_classes = [DeviceCookieAuthentication]
    permission_classes = [DeviceConnectionPermission]  # the policy's client-certificate lock (as the device API)

    @property
    def device(self) -> Device:
        return self.request.user  # type: ignore[return-value]  # set by DeviceCookieAuthentication


class MeApi(DeviceSessionApi):
    """This device: read, rename (PATCH), remove (DELETE with a WebAuthn assertion: revoked, session ended)."""

    def get(self, request: Request) -> Response:
        body = dict(DeviceSerializer(self.device).data)
        body["brand"] = asdict(brand_for(self.device.subscriber.tenant))
        body["vapid_public_key"] = vapid_public_key()
        return Response(body)

    def patch(self, request: Request) -> Response:
        data = RenameInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = device_services.device_rename(device=self.device, name=data.validated_data["name"])
        return Response(DeviceSerializer(device).data)

    def delete(self, request: Request) -> Response:
        data = RemoveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device_services.device_remove_with_assertion(
            device=self.device, credential=data.validated_data["credential"], client_ip=client_ip(request)
        )
        response = Response(status=204)
        clear_session_cookie(response)
        return response


class RemoveOptionsApi(DeviceSessionApi):
    """Request options for removing this device (a fresh fingerprint check is required)."""

    def post(self, request: Request) -> Response:
        options = credentials.assertion_options(
            device=self.device, approval_id=None, decision="remove", purpose=credentials.Purpose.MANAGE
        )
        return Response({"publicKey": options})


class PendingApprovalsApi(DeviceSessionApi):
    def get(self, request: Request) -> Response:
        pending = approval_selectors.approval_requests_pending_for_device(device=self.device)
        return Response(ApprovalDetailSerializer(pending, many=True).data)


class ApprovalDetailApi(DeviceSessionApi):
    def get(self, request: Request, approval_id: UUID) -> Response:
        approval = approval_selectors.approval_request_get_for_device(device=self.device, approval_id=approval_id)
        return Response(represent(ApprovalDetailSerializer, approval))


class DecisionOptionsApi(DeviceSessionApi):
    """Request options whose challenge is bound to this transaction and decision (single use)."""

    def post(self, request: Request, approval_id: UUID) -> Response:
        data = OptionsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        approval = approval_selectors.approval_request_get_for_device(device=self.device, approval_id=approval_id)
        options = credentials.assertion_options(
            device=self.device, approval_id=approval.pk, decision=data.validated_data["decision"]
        )
        return Response({"publicKey": options})


class DecisionApi(DeviceSessionApi):
    def post(self, request: Request, approval_id: UUID) -> Response:
        data = DecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        approval = approval_services.approval_request_decide_webauthn(
            device=self.device, approval_id=approval_id, client_ip=client_ip(request), **data.validated_data
        )
        body = dict(represent(DecisionOutputSerializer, approval))
        body["result"] = relying_result(approval.status)
        return Response(body)


class HistoryApi(DeviceSessionApi):
    def get(self, request: Request) -> Response:
        recent = selectors.approvals_recent_for_device(device=self.device)
        return Response(HistorySerializer(recent, many=True, context={"device": self.device}).data)


class PushSubscriptionApi(DeviceSessionApi):
    """Store the service worker's Web Push subscription (PUT) or forget it (DELETE)."""

    def put(self, request: Request) -> Response:
        data = PushSubscriptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = {"endpoint": data.validated_data["endpoint"], "keys": dict(data.validated_data["keys"])}
        device = device_services.device_set_webpush_subscription(device=self.device, subscription=subscription)
        return Response(DeviceSerializer(device).data)

    def delete(self, request: Request) -> Response:
        device = device_services.device_set_webpush_subscription(device=self.device, subscription={})
        return Response(DeviceSerializer(device).data)
