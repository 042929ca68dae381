from django.urls import path

from pki.api import views

urlpatterns = [
    path("device/certificate", views.DeviceCertificateApi.as_view(), name="pki-device-certificate"),
]
