"""Parameters of the Duo Auth API v2 (form, query or v5 JSON values; booleans as "1"/"0"/true)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class UserSelectorSerializer(serializers.Serializer):
    """``username`` or ``user_id`` (exactly one)."""

    username = serializers.CharField(max_length=150, required=False)
    user_id = serializers.CharField(max_length=20, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("username" in attrs) == ("user_id" in attrs):
            raise serializers.ValidationError({"username": [serializers.ErrorDetail("one of", code="required")]})
        return attrs


class PreauthInputSerializer(UserSelectorSerializer):
    ipaddr = serializers.IPAddressField(required=False, allow_null=True, default=None)
    hostname = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    trusted_device_token = serializers.CharField(max_length=512, required=False, allow_blank=True)
    client_supports_verified_push = serializers.BooleanField(required=False, default=False)


class AuthInputSerializer(UserSelectorSerializer):
    factor = serializers.ChoiceField(choices=["auto", "push", "passcode", "sms", "phone"])
    ipaddr = serializers.IPAddressField(required=False, allow_null=True, default=None)
    hostname = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    device = serializers.CharField(max_length=64, required=False, default="auto")
    type = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    display_username = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    pushinfo = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")
    txid = serializers.UUIDField(required=False, allow_null=True, default=None)
    passcode = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def get_fields(self) -> dict[str, serializers.Field]:
        # "async" is a Python keyword, so it cannot be a class attribute.
        fields = super().get_fields()
        fields["async"] = serializers.BooleanField(required=False, default=False)
        return fields


class AuthStatusInputSerializer(serializers.Serializer):
    txid = serializers.UUIDField()


class EnrollInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, required=False)
    valid_secs = serializers.IntegerField(min_value=1, max_value=30 * 24 * 3600, required=False, default=86400)
    bypass_codes = serializers.IntegerField(min_value=0, max_value=10, required=False)


class EnrollStatusInputSerializer(serializers.Serializer):
    user_id = serializers.CharField(max_length=20)
    activation_code = serializers.CharField(max_length=200)
