"""Duo-compatible front doors: Auth API v2 and the Universal Prompt (OIDC), at Duo's own paths (no slashes)."""

from django.urls import path

from duo import prompt_views, views

urlpatterns = [
    path("auth/v2/ping", views.PingApi.as_view(), name="duo-ping"),
    path("auth/v2/check", views.CheckApi.as_view(), name="duo-check"),
    path("auth/v2/logo", views.LogoApi.as_view(), name="duo-logo"),
    path("auth/v2/enroll", views.EnrollApi.as_view(), name="duo-enroll"),
    path("auth/v2/enroll_status", views.EnrollStatusApi.as_view(), name="duo-enroll-status"),
    path("auth/v2/preauth", views.PreauthApi.as_view(), name="duo-preauth"),
    path("auth/v2/auth", views.AuthApi.as_view(), name="duo-auth"),
    path("auth/v2/auth_status", views.AuthStatusApi.as_view(), name="duo-auth-status"),
    path("oauth/v1/health_check", prompt_views.HealthCheckApi.as_view(), name="duo-health-check"),
    path("oauth/v1/token", prompt_views.TokenApi.as_view(), name="duo-token"),
    path("oauth/v1/authorize", prompt_views.authorize, name="duo-authorize"),
    path("oauth/v1/prompt/<uuid:session_id>", prompt_views.prompt_page, name="duo-prompt"),
    path("oauth/v1/prompt/<uuid:session_id>/push", prompt_views.prompt_push, name="duo-prompt-push"),
    path("oauth/v1/prompt/<uuid:session_id>/passcode", prompt_views.prompt_passcode, name="duo-prompt-passcode"),
    path("oauth/v1/prompt/<uuid:session_id>/sms", prompt_views.prompt_sms, name="duo-prompt-sms"),
    path("oauth/v1/prompt/<uuid:session_id>/cancel", prompt_views.prompt_cancel, name="duo-prompt-cancel"),
    path(
        "oauth/v1/prompt/<uuid:session_id>/passkey/options",
        prompt_views.prompt_passkey_options,
        name="duo-prompt-passkey-options",
    ),
    path("oauth/v1/prompt/<uuid:session_id>/passkey", prompt_views.prompt_passkey, name="duo-prompt-passkey"),
]
