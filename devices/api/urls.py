from django.urls import path

from devices.api import views

urlpatterns = [
    path("activate", views.DeviceActivateApi.as_view(), name="device-activate"),
    path("me", views.DeviceMeApi.as_view(), name="device-me"),
    path("push-token", views.DevicePushTokenApi.as_view(), name="device-push-token"),
    path("approvals", views.PendingApprovalsApi.as_view(), name="device-approvals"),
    path("approvals/<uuid:approval_id>", views.ApprovalDetailApi.as_view(), name="device-approval-detail"),
    path("approvals/<uuid:approval_id>/decision", views.ApprovalDecisionApi.as_view(), name="device-approval-decision"),
]
