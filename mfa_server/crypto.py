"""Encryption of secrets at rest and hashing of bearer secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.MFA_SECRET_ENCRYPTION_KEYS))


@lru_cache(maxsize=1024)
def _decrypt_cached(token: str, keys: tuple[str, ...]) -> str:
    return _fernet_for(keys).decrypt(token.encode()).decode()


def encrypt_secret(plaintext: str) -> str:
    """Encrypt with the newest key of ``MFA_SECRET_ENCRYPTION_KEYS``."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str, *, ttl: int | None = None) -> str:
    """Decrypt with any configured key; raises ``ValueError`` when no key fits.

    With ``ttl`` (seconds) a token encrypted longer ago than that is refused too.
    """
    try:
        return _fernet().decrypt(token.encode(), ttl=ttl).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted with the configured keys") from exc


def decrypt_application_secret(token: str) -> str:
    """An application's secret key, decrypted once per process: every signed relying request needs it.

    Only long-lived API secrets go through this cache; one-time codes and TOTP seeds use
    ``decrypt_secret`` so their plaintext does not linger in memory.
    """
    try:
        return _decrypt_cached(token, tuple(settings.MFA_SECRET_ENCRYPTION_KEYS))
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted with the configured keys") from exc


def hash_token(token: str) -> str:
    """Digest of a high-entropy bearer secret (activation codes, device tokens), used as its lookup key.

    Keyed with SECRET_KEY so a database dump alone cannot confirm guesses.
    """
    return hmac.new(settings.SECRET_KEY.encode(), token.encode(), hashlib.sha256).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(a.encode(), b.encode())


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
