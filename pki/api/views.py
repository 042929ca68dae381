"""Device API for certificate enrolment (the approval client's "get a certificate for this machine")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from devices.api.views import DeviceApi
from mfa_server.net import client_ip
from pki import services
from pki.selectors import ca_chain_pem


class DeviceCertificateApi(DeviceApi):
    """``POST`` a CSR signed off by the device key; get back the certificate and its CA chain.

    A device API view like the others: device token, and the tenant policy's connection locks.
    """

    class InputSerializer(serializers.Serializer):
        csr = serializers.CharField(max_length=20000, help_text="PEM PKCS#10 CSR; the key stays on the client.")
        timestamp = serializers.IntegerField(help_text="Unix seconds, within the proof skew window.")
        signature = serializers.CharField(
            max_length=200,
            help_text="base64url ECDSA-SHA256 by the device key over "
            "`mfa-pki-csr-v1\\n<device_id>\\n<sha256 hex of the CSR DER>\\n<timestamp>`.",
        )

    class OutputSerializer(serializers.Serializer):
        serial = serializers.CharField()
        certificate = serializers.CharField(source="certificate_pem")
        chain = serializers.CharField()
        not_after = serializers.DateTimeField()
        san_uri = serializers.CharField()

    @extend_schema(
        summary="Issue a client certificate for this device's CSR",
        request=InputSerializer,
        responses={201: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.certificate_issue_for_device(
            device=self.device,
            client_ip=client_ip(request),
            **data.validated_data,
        )
        issued.chain = ca_chain_pem(ca=issued.ca)  # type: ignore[attr-defined]
        return Response(self.OutputSerializer(issued).data, status=201)
