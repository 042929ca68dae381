"""Device API additions, mounted beside devices.api at ``/api/v1/device/``."""

from django.urls import path

from pki.api import views

urlpatterns = [
    path("certificate", views.DeviceCertificateApi.as_view(), name="pki-device-certificate"),
]
