from django.urls import path

from approver import api, certificates, passcode, views

urlpatterns = [
    path("", views.shell, name="approver-shell"),
    path("sw.js", views.service_worker, name="approver-sw"),
    path("manifest.webmanifest", views.manifest, name="approver-manifest"),
    path("brand.css", views.brand_css, name="approver-brand-css"),
    path("brand/<slug:slug>/logo", views.logo, name="approver-logo"),
    path("api/register/options", api.RegisterOptionsApi.as_view(), name="approver-register-options"),
    path("api/register", api.RegisterApi.as_view(), name="approver-register"),
    path("api/me", api.MeApi.as_view(), name="approver-me"),
    path("api/me/options", api.RemoveOptionsApi.as_view(), name="approver-remove-options"),
    path("api/approvals", api.PendingApprovalsApi.as_view(), name="approver-approvals"),
    path("api/approvals/<uuid:approval_id>", api.ApprovalDetailApi.as_view(), name="approver-approval"),
    path("api/approvals/<uuid:approval_id>/options", api.DecisionOptionsApi.as_view(), name="approver-options"),
    path("api/approvals/<uuid:approval_id>/decision", api.DecisionApi.as_view(), name="approver-decision"),
    path("api/history", api.HistoryApi.as_view(), name="approver-history"),
    path("api/push-subscription", api.PushSubscriptionApi.as_view(), name="approver-push-subscription"),
    path("api/certificate/options", certificates.CertificateOptionsApi.as_view(), name="approver-certificate-options"),
    path("api/certificate", certificates.CertificateApi.as_view(), name="approver-certificate"),
    path("api/passcode-secret", passcode.PasscodeSecretApi.as_view(), name="approver-passcode-secret"),
    path(
        "api/passcode-secret/options",
        passcode.PasscodeSecretOptionsApi.as_view(),
        name="approver-passcode-secret-options",
    ),
]
