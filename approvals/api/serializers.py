"""Shapes of the relying-service API (input validation and documented output)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from approvals.models import ApprovalRequest
from approvals.services import LoginContext, relying_result


class PreauthInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    ip = serializers.IPAddressField(
        required=False, allow_null=True, default=None, help_text="The end user's IP (policy)."
    )


class DeviceSummarySerializer(serializers.Serializer):
    device_id = serializers.IntegerField()
    name = serializers.CharField()
    platform = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())


class PreauthOutputSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=["auth", "allow", "deny", "enroll"])
    reason = serializers.CharField()
    devices = DeviceSummarySerializer(many=True)
    factors = serializers.ListField(child=serializers.CharField())


class LoginContextSerializer(serializers.Serializer):
    ip = serializers.IPAddressField(required=False, allow_null=True, default=None)
    hostname = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    user_agent = serializers.CharField(max_length=512, required=False, allow_blank=True, default="")
    display_text = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    type = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")


def login_context(validated_data: dict[str, Any]) -> LoginContext:
    """The login context of a validated body with an optional ``context`` (``LoginContextSerializer``)."""
    context = validated_data.get("context", {})
    return LoginContext(
        ip=context.get("ip"),
        hostname=context.get("hostname", ""),
        user_agent=context.get("user_agent", ""),
        display_text=context.get("display_text", ""),
        login_type=context.get("type", ""),
    )


class AuthInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    factor = serializers.ChoiceField(choices=["push"], default="push")
    context = LoginContextSerializer(required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        # "async" is a Python keyword, so it cannot be a class attribute.
        fields = super().get_fields()
        fields["async"] = serializers.BooleanField(
            default=True, help_text="false: wait (bounded) for the decision before answering."
        )
        return fields


class StatusQuerySerializer(serializers.Serializer):
    wait = serializers.IntegerField(min_value=0, max_value=60, default=0)


# Plain Serializers for the hot outputs: a ModelSerializer introspects the model on every instance,
# a measurable share of a status poll's CPU (bench/approvals.py).
class ApprovalStatusSerializer(serializers.Serializer):
    """A transaction as the relying service sees it."""

    txid = serializers.UUIDField(source="id")
    status = serializers.ChoiceField(choices=ApprovalRequest.Status.choices)
    result = serializers.SerializerMethodField()
    status_reason = serializers.CharField(max_length=40)
    number = serializers.CharField(max_length=8, help_text="Digits the login page shows; typed on the phone.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)

    def get_result(self, obj: ApprovalRequest) -> str:
        return relying_result(obj.status)
