"""Private-key generation and encryption at rest (the only module that sees CA keys in clear).

CA keys are serialised as unencrypted PKCS#8 only inside this module and immediately wrapped in a
Fernet token under ``MFA_CA_KEY_ENCRYPTION_KEYS`` (a ``MultiFernet``: newest key encrypts, any key
decrypts, so keys can be rotated with :func:`rewrap_private_key`).
"""

from __future__ import annotations

from typing import cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from django.conf import settings

from pki.exceptions import CaKeyUnavailableError

EC_P256 = "ec-p256"
RSA_3072 = "rsa-3072"
ALGORITHMS = (EC_P256, RSA_3072)

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def generate_private_key(algorithm: str) -> SigningKey:
    """A fresh key pair for ``ec-p256`` (default everywhere) or ``rsa-3072``.

    Raises:
        ValueError: for any other algorithm name.
    """
    if algorithm == EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == RSA_3072:
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise ValueError(f"unsupported algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")


def algorithm_of(key: object) -> str:
    """Our algorithm label of a private or public key (``other`` for anything else)."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return EC_P256
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size == 3072:
        return RSA_3072
    return "other"


def signature_hash(key: object) -> hashes.HashAlgorithm:
    """SHA-256 for P-256 and RSA; SHA-384 for larger curves (matching strength)."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.MFA_CA_KEY_ENCRYPTION_KEYS])


def encrypt_private_key(key: CertificateIssuerPrivateKeyTypes) -> str:
    """Fernet token (newest KEK) over the key's PKCS#8 DER; the clear bytes never leave this function."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return _fernet().encrypt(der).decode()


def decrypt_private_key(token: str) -> SigningKey:
    """Inverse of :func:`encrypt_private_key`.

    Raises:
        CaKeyUnavailableError: when no configured KEK opens the token.
    """
    try:
        der = _fernet().decrypt(token.encode())
    except InvalidToken as exc:
        raise CaKeyUnavailableError() from exc
    return cast(SigningKey, serialization.load_der_private_key(der, password=None))


def rewrap_private_key(token: str) -> str:
    """Re-encrypt a token under the newest KEK (for key rotation)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise CaKeyUnavailableError() from exc
