"""Shapes of the fallback endpoints (relying-service and device side)."""

from __future__ import annotations

from rest_framework import serializers

from approvals.api.serializers import LoginContextSerializer

CODE_FACTORS = ["sms", "session_code"]


class FallbackInputSerializer(serializers.Serializer):
    factor = serializers.ChoiceField(choices=CODE_FACTORS, help_text="Where the code goes: SMS or the user's devices.")


class CodeStartInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    factor = serializers.ChoiceField(choices=CODE_FACTORS)
    context = LoginContextSerializer(required=False)


class VerifyInputSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^[0-9 -]{4,20}$", help_text="The code the user typed.")


class PasscodeInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    passcode = serializers.RegexField(
        r"^[0-9 -]{6,20}$", help_text="6-digit passcode from the user's device, or a 9-digit bypass code."
    )
    context = LoginContextSerializer(required=False)


class PasscodeSecretOutputSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 RFC 6238 secret (SHA-1, 6 digits, 30 s); returned only once.")
    otpauth_uri = serializers.CharField()
    digits = serializers.IntegerField()
    period = serializers.IntegerField()
    algorithm = serializers.CharField()


class SessionCodeOutputSerializer(serializers.Serializer):
    approval_id = serializers.CharField()
    code = serializers.CharField()
    expires_at = serializers.DateTimeField()
    application = serializers.CharField()
