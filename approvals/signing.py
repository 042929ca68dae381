"""Request signatures for the relying-service API, compatible with Duo's signature v2 / v4 / v5.

Pure functions: canonical strings and HMACs, no Django. See ``shared/specs/duo-compat.md`` §1.3.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote

EMPTY_SHA512 = hashlib.sha512(b"").hexdigest()


def canon_params(params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 parameter normalisation: percent-encode keys and values, sort, join with ``&``."""
    encoded = sorted((quote(k, safe="~"), quote(v, safe="~")) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canon_x_duo_headers(headers: Mapping[str, str]) -> str:
    """Every ``X-Duo-*`` header, names lower-cased and sorted, names and values joined by NUL."""
    pairs = sorted((k.lower(), v) for k, v in headers.items() if k.lower().startswith("x-duo"))
    return "\x00".join(part for pair in pairs for part in pair)


def canonical_string(
    *,
    version: int,
    date: str,
    method: str,
    host: str,
    path: str,
    params: Iterable[tuple[str, str]],
    body: bytes = b"",
    x_duo_headers: Mapping[str, str] | None = None,
) -> str:
    """The string a client signs, for signature version 2, 4 or 5."""
    lines = [date, method.upper(), host.lower(), path, canon_params(params)]
    if version >= 4:
        lines.append(hashlib.sha512(body).hexdigest())
    if version >= 5:
        lines.append(hashlib.sha512(canon_x_duo_headers(x_duo_headers or {}).encode()).hexdigest())
    return "\n".join(lines)


def sign(secret: str, canonical: str, digestmod: str = "sha512") -> str:
    return hmac.new(secret.encode(), canonical.encode(), digestmod).hexdigest()


def authorization_header(ikey: str, signature: str) -> str:
    return "Basic " + base64.b64encode(f"{ikey}:{signature}".encode()).decode()


def parse_authorization(header: str) -> tuple[str, str] | None:
    """``(ikey, hexsig)`` from ``Basic base64(ikey:hexsig)``, or None when malformed."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    ikey, sep, signature = decoded.partition(":")
    if not sep or not ikey or not signature:
        return None
    return ikey, signature.lower()


def signature_matches(
    *,
    secret: str,
    signature: str,
    date: str,
    method: str,
    host: str,
    path: str,
    form_params: list[tuple[str, str]],
    query_params: list[tuple[str, str]],
    body: bytes,
    x_duo_headers: Mapping[str, str],
    versions: tuple[int, ...] = (5, 4, 2),
) -> bool:
    """Whether ``signature`` signs one of the allowed canonical forms, tried in the order of ``versions``
    (newest first: today's clients sign v5) and each compared in constant time. It stops at the first
    match, which only tells the caller what the answer does; a wrong signature is compared with them all.

    A 40-hex signature is HMAC-SHA1 (v2 only), 128-hex is HMAC-SHA512. Signature v2 signs the
    form body's parameters (the query string's on GET); v4/v5 sign the query string and hash the body.
    """
    digestmod = {40: "sha1", 128: "sha512"}.get(len(signature))
    if digestmod is None:
        return False
    for version in versions:
        if digestmod == "sha1" and version != 2:
            continue
        canonical = canonical_string(
            version=version,
            date=date,
            method=method,
            host=host,
            path=path,
            params=query_params if version >= 4 else form_params,
            body=body if version >= 4 else b"",
            x_duo_headers=x_duo_headers,
        )
        if hmac.compare_digest(sign(secret, canonical, digestmod), signature):
            return True
    return False
