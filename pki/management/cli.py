"""Shared bits of the pki management commands: one JSON object on stdout, domain errors as CommandError."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError

from mfa_server.errors import DomainError, NotFoundError
from pki.models import CertificateAuthority, IssuedCertificate
from pki.selectors import crl_url
from tenants.models import Subscriber, Tenant


def run(fn: Callable[[], dict[str, Any]]) -> str:
    """Call ``fn`` and return its result as JSON; domain errors become ``CommandError`` with their code."""
    try:
        return json.dumps(fn(), indent=2)
    except DomainError as exc:
        raise CommandError(json.dumps({"code": exc.code, "detail": exc.message})) from exc


def read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise CommandError(json.dumps({"code": "file_unreadable", "detail": f"cannot read {path}"})) from exc


def secret_from_env(variable: str) -> str:
    """Secrets (passwords) come from the environment, never from argv (visible in ps and shell history)."""
    value = os.environ.get(variable, "")
    if not value:
        raise CommandError(
            json.dumps({"code": "secret_missing", "detail": f"environment variable {variable} is empty"})
        )
    return value


def subscriber_get(*, tenant: Tenant, username: str) -> Subscriber:
    subscriber = Subscriber.objects.filter(tenant=tenant, username=username).first()
    if subscriber is None:
        raise NotFoundError("No such subscriber in this tenant.")
    return subscriber


def ca_json(ca: CertificateAuthority) -> dict[str, Any]:
    return {
        "id": str(ca.public_id),
        "name": ca.name,
        "kind": ca.kind,
        "algorithm": ca.algorithm,
        "serial": ca.serial,
        "subject": ca.subject,
        "not_after": ca.not_after.isoformat(),
        "is_issuing": ca.is_issuing,
        "crl_url": crl_url(ca=ca),
    }


def certificate_json(certificate: IssuedCertificate) -> dict[str, Any]:
    return {
        "serial": certificate.serial,
        "subject": certificate.subject,
        "san_uri": certificate.san_uri,
        "holder": certificate.holder,
        "status": certificate.status,
        "not_before": certificate.not_before.isoformat(),
        "not_after": certificate.not_after.isoformat(),
        "ca": str(certificate.ca.public_id),
        "revocation_reason": certificate.revocation_reason or None,
    }
