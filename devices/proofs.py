"""Device decision proofs: an ECDSA P-256 signature over a canonical payload.

The payload binds the transaction, the decision, the number the user typed and a timestamp, so a proof
is good for one decision on one transaction only. Both the server and the reference client use
``canonical_payload`` so the byte layout lives in exactly one place.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PROOF_VERSION = "mfa-decision-v1"
DECISIONS = ("approve", "deny", "fraud")


def canonical_payload(*, approval_id: str, decision: str, number: str, timestamp: int) -> bytes:
    """The exact bytes a device signs for a decision."""
    return "\n".join([PROOF_VERSION, approval_id, decision, number, str(timestamp)]).encode()


@lru_cache(maxsize=4096)  # each decision checks its device's key: parsing it validates the point each time
def load_public_key(pem: str) -> ec.EllipticCurvePublicKey:
    """Parse a PEM SubjectPublicKeyInfo; raises ``ValueError`` unless it is a P-256 key."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except UnsupportedAlgorithm as exc:  # a well-formed key of an algorithm cryptography does not know
        raise ValueError("the device key must be an EC P-256 public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the device key must be an EC P-256 public key")
    return key


def verify_signature(*, public_key_pem: str, payload: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` (base64url DER ECDSA-SHA256) signs ``payload`` under the key."""
    try:
        signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
        load_public_key(public_key_pem).verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def sign_payload(private_key: ec.EllipticCurvePrivateKey, payload: bytes) -> str:
    """Sign as a device does; returns base64url without padding."""
    signature = private_key.sign(payload, ec.ECDSA(hashes.SHA256()))
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
