"""Shapes of the device API."""

from __future__ import annotations

from rest_framework import serializers

from approvals.models import ApprovalRequest
from devices.proofs import DECISIONS


class ActivateInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=200)
    public_key = serializers.CharField(max_length=1000, help_text="PEM SubjectPublicKeyInfo of an EC P-256 key.")
    name = serializers.CharField(max_length=100)
    platform = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    fcm_token = serializers.CharField(max_length=4096, required=False, allow_blank=True, default="")


class ActivateOutputSerializer(serializers.Serializer):
    device_id = serializers.IntegerField()
    device_token = serializers.CharField(help_text="Bearer token for the device API; shown only once.")
    username = serializers.CharField()
    tenant = serializers.CharField()


class PushTokenInputSerializer(serializers.Serializer):
    fcm_token = serializers.CharField(max_length=4096, allow_blank=True)


class DeviceOutputSerializer(serializers.Serializer):
    device_id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    platform = serializers.CharField()
    username = serializers.CharField(source="subscriber.username")
    tenant = serializers.CharField(source="subscriber.tenant.display_name")
    has_fcm_token = serializers.SerializerMethodField()

    def get_has_fcm_token(self, obj: object) -> bool:
        return bool(getattr(obj, "fcm_token", ""))


class ApprovalDetailSerializer(serializers.Serializer):  # not a ModelSerializer: no introspection per fetch
    """Everything the phone shows before the user decides. The number itself is never sent to the device."""

    approval_id = serializers.UUIDField(source="id")
    status = serializers.ChoiceField(choices=ApprovalRequest.Status.choices)
    application = serializers.CharField(source="application.name")
    tenant = serializers.CharField(source="application.tenant.display_name")
    username = serializers.CharField(source="subscriber.username")
    ip = serializers.IPAddressField(allow_null=True)
    hostname = serializers.CharField(max_length=255)
    user_agent = serializers.CharField(max_length=512)
    display_text = serializers.CharField(max_length=200)
    login_type = serializers.CharField(max_length=60)
    number_digits = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()

    def get_number_digits(self, obj: ApprovalRequest) -> int:
        return len(obj.number)


class DecisionInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=DECISIONS)
    number = serializers.RegexField(r"^[0-9]{0,8}$", required=False, allow_blank=True, default="")
    # Bounded so the freshness check never meets a number too large for a float.
    timestamp = serializers.IntegerField(min_value=0, max_value=2**53, help_text="Unix seconds when the device signed.")
    signature = serializers.RegexField(
        r"^[A-Za-z0-9_-]{16,200}$", help_text="base64url DER ECDSA-SHA256 over the canonical payload."
    )


class DecisionOutputSerializer(serializers.Serializer):
    approval_id = serializers.UUIDField(source="id")
    status = serializers.CharField()
