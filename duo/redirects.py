"""Registering the redirect URIs an application's Universal Prompt may send codes to."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from approvals.models import Application
from audit.services import audit_record
from duo.models import RedirectUri
from mfa_server.errors import InvalidInputError, NotFoundError


class RedirectUriInvalidError(InvalidInputError):
    code = "redirect_uri_invalid"
    default_message = (
        "A redirect URI must be an absolute https URL (http only for localhost) of at most 256 characters."
    )


class ApplicationNotFoundError(NotFoundError):
    code = "application_not_found"
    default_message = "No such application."


def redirect_uri_validate(uri: str) -> None:
    """Raise ``RedirectUriInvalidError`` unless ``uri`` is an absolute https URL without a fragment (≤ 256)."""
    parts = urlsplit(uri)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if (
        len(uri) > 256
        or parts.fragment
        or not parts.hostname
        or not (parts.scheme == "https" or (local and parts.scheme == "http"))
    ):
        raise RedirectUriInvalidError()


def redirect_uri_add(*, application: Application, uri: str, actor: str) -> RedirectUri:
    """Register ``uri`` for the application (idempotent); audited."""
    redirect_uri_validate(uri)
    try:
        with transaction.atomic():
            registered = RedirectUri.objects.create(application=application, uri=uri)
    except IntegrityError:
        return RedirectUri.objects.get(application=application, uri=uri)
    redirect_uri_audit(kind="duo.redirect_uri_added", application=application, uri=uri, actor=actor)
    return registered


def redirect_uri_remove(*, application: Application, uri: str, actor: str) -> bool:
    """Unregister ``uri``; False when it was not registered. Audited."""
    deleted, _ = RedirectUri.objects.filter(application=application, uri=uri).delete()
    if deleted:
        redirect_uri_audit(kind="duo.redirect_uri_removed", application=application, uri=uri, actor=actor)
    return bool(deleted)


def redirect_uri_audit(*, kind: str, application: Application, uri: str, actor: str) -> None:
    """Audit ``duo.redirect_uri_added`` / ``duo.redirect_uri_removed`` (also for the admin's own saves)."""
    detail = {"ikey": application.integration_key, "uri": uri}
    audit_record(kind=kind, tenant_id=application.tenant_id, actor=actor, detail=detail)


def application_get(*, integration_key: str) -> Application:
    application = Application.objects.filter(integration_key=integration_key).first()
    if application is None:
        raise ApplicationNotFoundError()
    return application
