"""The conditional UPDATE that ends a pending transaction, as one cached SQL text.

Every decision, cancel and expiry runs it; building it through the ORM (two filters and an update) cost
about a quarter of the device's approve call. Whoever changes the row wins; everyone else changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from uuid import UUID

from django.db import connection, transaction

from approvals.models import ApprovalRequest
from mfa_server.rows import sql_names, value_to_db


def pending_request_end(
    *, approval_id: UUID, status: str, reason: str, now: datetime, decided_by_id: int | None, unexpired_only: bool
) -> bool:
    """Set the outcome of a request that is still pending (and, with ``unexpired_only``, not past its
    ``expires_at``); True when this call changed it."""
    field = ApprovalRequest._meta.get_field
    params = [
        status,
        reason,
        value_to_db(field("decided_at"), now),
        decided_by_id,
        value_to_db(field("id"), approval_id),
        ApprovalRequest.Status.PENDING,
    ]
    if unexpired_only:
        params.append(value_to_db(field("expires_at"), now))
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:  # as QuerySet.update does
        cursor.execute(_update_sql(unexpired_only), params)
        return cursor.rowcount == 1


@cache
def _update_sql(unexpired_only: bool) -> str:
    table, column = sql_names(ApprovalRequest)
    expiry = f" AND {column('expires_at')} > %s" if unexpired_only else ""
    return (
        f"UPDATE {table} SET {column('status')} = %s, {column('status_reason')} = %s, "  # noqa: S608
        f"{column('decided_at')} = %s, {column('decided_by')} = %s "
        f"WHERE {column('id')} = %s AND {column('status')} = %s{expiry}"
    )
