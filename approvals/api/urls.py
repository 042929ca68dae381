from django.urls import path

from approvals.api import views

urlpatterns = [
    path("check", views.CheckApi.as_view(), name="relying-check"),
    path("preauth", views.PreauthApi.as_view(), name="relying-preauth"),
    path("auth", views.AuthApi.as_view(), name="relying-auth"),
    path("auth/<uuid:txid>", views.AuthStatusApi.as_view(), name="relying-auth-status"),
    path("auth/<uuid:txid>/cancel", views.AuthCancelApi.as_view(), name="relying-auth-cancel"),
]
