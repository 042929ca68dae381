from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from devices.views import enrollment_qr
from mfa_server import openapi  # noqa: F401  (registers the schema's field extensions)
from mfa_server.api import not_found


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


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
    # Any other API path: problem details (mfa_server.api.not_found); exempt from CSRF like the API's views.
    re_path(r"^api/", csrf_exempt(not_found)),
]
