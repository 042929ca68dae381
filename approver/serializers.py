"""Shapes of the approver's browser API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from rest_framework import serializers

from approvals.models import ApprovalRequest
from devices.api.serializers import ApprovalDetailSerializer, DecisionOutputSerializer
from devices.models import Device
from devices.proofs import DECISIONS


class RegisterOptionsInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=200)


class RegisterInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=200)
    name = serializers.CharField(max_length=100)
    credential = serializers.DictField(help_text="PublicKeyCredential.toJSON() of navigator.credentials.create().")


class RenameInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class RemoveInputSerializer(serializers.Serializer):
    credential = serializers.DictField(help_text="PublicKeyCredential.toJSON() answering the removal options.")


class OptionsInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=DECISIONS)


class DecisionInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=DECISIONS)
    number = serializers.RegexField(r"^[0-9]{0,8}$", required=False, allow_blank=True, default="")
    credential = serializers.DictField(
        required=False, allow_null=True, default=None, help_text="PublicKeyCredential.toJSON() of credentials.get()."
    )


class _PushKeysSerializer(serializers.Serializer):
    p256dh = serializers.RegexField(r"^[A-Za-z0-9_-]{80,100}={0,2}$")
    auth = serializers.RegexField(r"^[A-Za-z0-9_-]{16,30}={0,2}$")


class PushSubscriptionInputSerializer(serializers.Serializer):
    """``PushSubscription.toJSON()``; the endpoint must be an https URL of a known push service."""

    endpoint = serializers.URLField(max_length=2048)
    keys = _PushKeysSerializer()

    def validate_endpoint(self, value: str) -> str:
        if not value.startswith("https://") and not settings.DEBUG:
            raise serializers.ValidationError("The push endpoint must use https.")
        host = (urlsplit(value).hostname or "").lower()
        if not any(host == known or host.endswith(f".{known}") for known in settings.MFA_WEBPUSH_ENDPOINT_HOSTS):
            raise serializers.ValidationError("The push endpoint is not a known push service.")
        return value


class DeviceSerializer(serializers.ModelSerializer):
    device_id = serializers.IntegerField(source="pk")
    username = serializers.CharField(source="subscriber.username")
    tenant = serializers.CharField(source="subscriber.tenant.display_name")
    tenant_slug = serializers.CharField(source="subscriber.tenant.slug")
    push_subscribed = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = [
            "device_id", "name", "kind", "platform", "username", "tenant", "tenant_slug",
            "push_subscribed", "created_at", "last_seen_at",
        ]  # fmt: skip

    def get_push_subscribed(self, obj: Device) -> bool:
        return bool(obj.webpush_subscription)


class HistorySerializer(serializers.ModelSerializer):
    approval_id = serializers.UUIDField(source="id")
    application = serializers.CharField(source="application.name")
    decided_here = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRequest
        fields = [
            "approval_id",
            "application",
            "status",
            "status_reason",
            "ip",
            "created_at",
            "decided_at",
            "decided_here",
        ]

    def get_decided_here(self, obj: ApprovalRequest) -> bool:
        device: Any = self.context.get("device")
        return device is not None and obj.decided_by_id == device.pk


__all__ = ["ApprovalDetailSerializer", "DecisionOutputSerializer"]
