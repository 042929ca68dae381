"""Pure helpers for codes: generation, keyed hashing, TOTP matching (pyotp). No ORM here."""

from __future__ import annotations

import secrets
from datetime import datetime

import pyotp

from mfa_server.crypto import hash_token, tokens_equal

TOTP_DIGITS = 6
TOTP_INTERVAL = 30
BYPASS_CODE_DIGITS = 9


def numeric_code(digits: int) -> str:
    """A uniformly random code of ``digits`` decimal digits (leading zeros kept)."""
    return str(secrets.randbelow(10**digits)).zfill(digits)


def normalize_code(code: str) -> str:
    """What people type: spaces and dashes are ignored."""
    return "".join(ch for ch in code if ch not in " -")


def code_hash(*, scope: str, code: str) -> str:
    """Keyed hash of a low-entropy code, bound to its scope (a transaction or a subscriber).

    Binding to the scope means equal digits in two transactions hash differently, and the key
    (SECRET_KEY) means a database dump alone cannot be brute-forced offline.
    """
    return hash_token(f"{scope}\n{code}")


def code_matches(*, scope: str, code: str, stored_hash: str) -> bool:
    """Constant-time check of ``code`` against a stored hash."""
    return tokens_equal(code_hash(scope=scope, code=code), stored_hash)


def new_totp_secret() -> str:
    """A fresh base32 secret (160 bits, RFC 4226's recommended length)."""
    return pyotp.random_base32(length=32)


def totp_matching_step(*, secret: str, code: str, now: datetime, tolerance_steps: int) -> int | None:
    """The time step whose code equals ``code`` within ±``tolerance_steps``, else None.

    Every candidate is compared in constant time and all are compared, so timing does not reveal
    which step (if any) matched.
    """
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)
    matched: int | None = None
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    for offset in range(-tolerance_steps, tolerance_steps + 1):
        at = now.timestamp() + offset * TOTP_INTERVAL
        if tokens_equal(totp.at(at), code) and matched is None:
            matched = totp.timecode(at)
    return matched


def totp_provisioning_uri(*, secret: str, name: str, issuer: str) -> str:
    """``otpauth://`` URI (for authenticator apps and QR codes)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL).provisioning_uri(
        name=name, issuer_name=issuer
    )
