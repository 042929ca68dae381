from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from devices.views import enrollment_qr


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


handler404 = "mfa_server.api.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("api/v1/", include("approvals.api.urls")),
    path("api/v1/device/", include("devices.api.urls")),
    path("api/v1/", include("fallbacks.api.urls")),
    path("api/v1/device/", include("pki.api.urls")),
    path("pki/", include("pki.urls")),
    path("enroll/qr", enrollment_qr, name="enrollment-qr"),
    path("approver/", include("approver.urls")),
    path("", include("duo.urls")),
    path("api/schema", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="openapi-docs"),
]
