"""Duo-shaped identifiers for our rows: ``DU`` + 18 digits for users, ``DP`` + 18 digits for phones."""

from __future__ import annotations

from approvals.models import Application
from duo.exceptions import DuoInvalidParameterError
from tenants.models import Subscriber


def duo_user_id(subscriber_pk: int) -> str:
    return f"DU{subscriber_pk:018d}"


def duo_device_id(device_pk: int) -> str:
    return f"DP{device_pk:018d}"


def _pk_from(identifier: str, prefix: str) -> int | None:
    digits = identifier[len(prefix) :]
    if not identifier.startswith(prefix) or len(identifier) != 20 or not digits.isdigit():
        return None
    return int(digits)


def device_pk_from(identifier: str) -> int | None:
    return _pk_from(identifier, "DP")


def subscriber_pk_from(identifier: str) -> int | None:
    return _pk_from(identifier, "DU")


def username_for(*, application: Application, username: str | None, user_id: str | None) -> str:
    """The username a request names, by ``username`` or by Duo ``user_id`` (scoped to the application's tenant).

    Raises ``DuoInvalidParameterError`` for a ``user_id`` that names nobody in this tenant.
    """
    if username is not None:
        return username
    pk = subscriber_pk_from(user_id or "")
    subscriber = Subscriber.objects.filter(pk=pk, tenant_id=application.tenant_id).first() if pk else None
    if subscriber is None:
        raise DuoInvalidParameterError(detail="user_id")
    return subscriber.username
