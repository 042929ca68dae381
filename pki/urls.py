"""Public CA URLs, mounted at ``/pki/``. The CRL paths are written into issued certificates: never change them."""

from django.urls import path

from pki import views

urlpatterns = [
    path("ca/<uuid:public_id>/crl.der", views.crl_der_view, name="pki-crl-der"),
    path("ca/<uuid:public_id>/crl.pem", views.crl_pem_view, name="pki-crl-pem"),
    path("ca/<uuid:public_id>/chain.pem", views.chain_pem_view, name="pki-chain-pem"),
    path("ca/<uuid:public_id>/ocsp", views.ocsp_view, name="pki-ocsp"),
    path("ca/<uuid:public_id>/ocsp/<path:encoded>", views.ocsp_view, name="pki-ocsp-get"),
]
