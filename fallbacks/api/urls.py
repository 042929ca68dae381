"""Mounted at /api/v1/: relying-service fallback endpoints and two device endpoints."""

from django.urls import path

from fallbacks.api import views

urlpatterns = [
    path("auth/passcode", views.PasscodeApi.as_view(), name="relying-auth-passcode"),
    path("auth/code", views.CodeStartApi.as_view(), name="relying-auth-code"),
    path("auth/<uuid:txid>/fallback", views.FallbackRequestApi.as_view(), name="relying-auth-fallback"),
    path("auth/<uuid:txid>/verify", views.CodeVerifyApi.as_view(), name="relying-auth-verify"),
    path("device/passcode-secret", views.PasscodeSecretApi.as_view(), name="device-passcode-secret"),
    path("device/codes", views.SessionCodesApi.as_view(), name="device-session-codes"),
]
