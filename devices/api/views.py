"""The device API: activation, pending approvals, signed decisions, push-token updates."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import selectors as approval_selectors
from approvals import services as approval_services
from devices import services
from devices.api.authentication import DeviceTokenAuthentication
from devices.api.serializers import (
    ActivateInputSerializer,
    ActivateOutputSerializer,
    ApprovalDetailSerializer,
    DecisionInputSerializer,
    DecisionOutputSerializer,
    DeviceOutputSerializer,
    PushTokenInputSerializer,
)
from devices.models import Device
from mfa_server.net import client_ip
from mfa_server.shared_serializers import represent, validated
from policies.permissions import DeviceConnectionPermission


class DeviceActivateApi(APIView):
    @extend_schema(
        summary="Activate a device with its code",
        request=ActivateInputSerializer,
        responses={201: ActivateOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = ActivateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activated = services.device_activate(
            code=data.validated_data["code"],
            public_key_pem=data.validated_data["public_key"],
            name=data.validated_data["name"],
            platform=data.validated_data["platform"],
            fcm_token=data.validated_data["fcm_token"],
            client_ip=client_ip(request),
        )
        device = activated.device
        output = {
            "device_id": device.pk,
            "device_token": activated.device_token,
            "username": device.subscriber.username,
            "tenant": device.subscriber.tenant.display_name,
        }
        return Response(ActivateOutputSerializer(output).data, status=201)


class DeviceApi(APIView):
    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [DeviceConnectionPermission]  # the policy's client-certificate lock

    @property
    def device(self) -> Device:
        return self.request.user  # type: ignore[return-value]  # set by DeviceTokenAuthentication


class DeviceMeApi(DeviceApi):
    @extend_schema(summary="This device", responses=DeviceOutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(DeviceOutputSerializer(self.device).data)


class DevicePushTokenApi(DeviceApi):
    @extend_schema(
        summary="Replace the FCM registration token", request=PushTokenInputSerializer, responses=DeviceOutputSerializer
    )
    def put(self, request: Request) -> Response:
        data = PushTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_update_push_token(device=self.device, fcm_token=data.validated_data["fcm_token"])
        return Response(DeviceOutputSerializer(device).data)


class PendingApprovalsApi(DeviceApi):
    @extend_schema(summary="Pending approvals of this device's user", responses=ApprovalDetailSerializer(many=True))
    def get(self, request: Request) -> Response:
        pending = approval_selectors.approval_requests_pending_for_device(device=self.device)
        return Response(ApprovalDetailSerializer(pending, many=True).data)


class ApprovalDetailApi(DeviceApi):
    @extend_schema(summary="One approval with its login context", responses=ApprovalDetailSerializer)
    def get(self, request: Request, approval_id: UUID) -> Response:
        approval = approval_selectors.approval_request_get_for_device(device=self.device, approval_id=approval_id)
        return Response(represent(ApprovalDetailSerializer, approval))


class ApprovalDecisionApi(DeviceApi):
    @extend_schema(
        summary="Approve, deny or report fraud, with a P-256 proof",
        description="`signature` signs `mfa-decision-v1\\n<approval_id>\\n<decision>\\n<number>\\n<timestamp>`.",
        request=DecisionInputSerializer,
        responses=DecisionOutputSerializer,
    )
    def post(self, request: Request, approval_id: UUID) -> Response:
        data = validated(DecisionInputSerializer, request.data)
        approval = approval_services.approval_request_decide(
            device=self.device, approval_id=approval_id, client_ip=client_ip(request), **data
        )
        return Response(represent(DecisionOutputSerializer, approval))
