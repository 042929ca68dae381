"""OCSP responder (RFC 6960) answered directly by each CA with its own key.

Responses are signed by the CA itself (no delegated responder certificate), which every OCSP client
accepts for certificates that CA issued. Requests for another issuer are ``unauthorized``; serials this
CA never issued are ``unknown``. Only reads: nothing is stored per request.
"""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from django.utils import timezone

from pki import keys
from pki.builders import REASON_FLAGS, load_cert, serial_hex
from pki.models import CertificateAuthority, IssuedCertificate

# Responses are signed live, so a short validity costs nothing and bounds how long a cached "good" lasts.
OCSP_RESPONSE_VALIDITY = timedelta(hours=1)


def _key_bits(public_key: object) -> bytes:
    """The subjectPublicKey BIT STRING contents, which RFC 6960 ``issuerKeyHash`` hashes."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    if isinstance(public_key, rsa.RSAPublicKey):
        return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    raise ValueError("unsupported CA key type for OCSP")


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def ocsp_respond(*, ca: CertificateAuthority, request_der: bytes) -> bytes:
    """DER OCSPResponse for a DER OCSPRequest addressed to ``ca`` (one certificate per request)."""
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = request.hash_algorithm
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    issuer = load_cert(ca.certificate_pem)
    ours = (
        _digest(algorithm, issuer.subject.public_bytes()) == request.issuer_name_hash
        and _digest(algorithm, _key_bits(issuer.public_key())) == request.issuer_key_hash
    )
    if not ours:
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    issued = IssuedCertificate.objects.filter(ca=ca, serial=serial_hex(request.serial_number)).first()
    now = timezone.now()
    status, revoked_at, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
    if issued is not None and issued.revoked_at is not None:
        status, revoked_at = ocsp.OCSPCertStatus.REVOKED, issued.revoked_at
        reason = REASON_FLAGS.get(issued.revocation_reason or "unspecified")
    elif issued is not None:
        status = ocsp.OCSPCertStatus.GOOD
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=request.issuer_name_hash,
        issuer_key_hash=request.issuer_key_hash,
        serial_number=request.serial_number,
        algorithm=algorithm,
        cert_status=status,
        this_update=now,
        next_update=now + OCSP_RESPONSE_VALIDITY,
        revocation_time=revoked_at,
        revocation_reason=reason,
    )
    # The signer's certificate travels with the response so clients can find the key (RFC 6960 §4.2.1).
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuer).certificates([issuer])
    try:
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce)
        builder = builder.add_extension(nonce.value, critical=False)
    except x509.ExtensionNotFound:
        pass
    key = keys.decrypt_private_key(ca.encrypted_private_key)
    response = builder.sign(key, keys.signature_hash(key))
    return response.public_bytes(serialization.Encoding.DER)
