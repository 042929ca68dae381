"""The conditional UPDATE that ends a pending transaction, as one cached SQL text.

Every decision, cancel and expiry runs it; building it through the ORM (two filters and an update) cost
about a quarter of the device's approve call. Whoever changes the row wins; everyone else changes nothing.
``pending_request_end_with_proof`` also consumes the device's proof and records the audit event, in the
same statement.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from uuid import UUID

from django.db import connection, transaction

from approvals.models import ApprovalRequest, UsedProof
from audit.models import AuditEvent
from mfa_server.rows import row_insert_from, sql_names, value_to_db


def pending_request_end(
    *, approval_id: UUID, status: str, reason: str, now: datetime, decided_by_id: int | None, unexpired_only: bool
) -> bool:
    """Set the outcome of a request that is still pending (and, with ``unexpired_only``, not past its
    ``expires_at``); True when this call changed it."""
    params = _update_params(approval_id, status, reason, now, decided_by_id, unexpired_only)
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:  # as QuerySet.update does
        cursor.execute(_update_sql(unexpired_only), params)
        return cursor.rowcount == 1


def pending_request_end_with_proof(
    *,
    approval_id: UUID,
    status: str,
    reason: str,
    now: datetime,
    decided_by_id: int,
    proof_digest: str,
    event: AuditEvent,
) -> tuple[bool, bool]:
    """PostgreSQL, outside a transaction: consume the proof (``proof_consume``), and only if it was fresh
    end the pending, unexpired request and insert ``event``, all in one statement (data-modifying WITH
    clauses run atomically, with no BEGIN and COMMIT round trips). Returns (proof was fresh, request ended)."""
    proof_params = [proof_digest, value_to_db(UsedProof._meta.get_field("created_at"), now)]
    update_params = _update_params(approval_id, status, reason, now, decided_by_id, unexpired_only=True)
    audit_sql, audit_params = row_insert_from(event, "ended")
    with connection.cursor() as cursor:
        cursor.execute(_end_with_proof_sql(audit_sql), proof_params + update_params + audit_params)
        fresh, ended = cursor.fetchone()
    return fresh, ended


@cache
def _end_with_proof_sql(audit_sql: str) -> str:
    return (
        f"WITH proof AS ({proof_insert_sql()} RETURNING 1), "  # noqa: S608 (names from the models)
        f"ended AS ({_update_sql(True)} AND EXISTS (SELECT FROM proof) RETURNING 1), "
        f"audited AS ({audit_sql}) "
        "SELECT EXISTS (SELECT FROM proof), EXISTS (SELECT FROM ended)"
    )


@cache
def proof_insert_sql() -> str:
    """INSERT of a used proof (digest, created_at) that inserts nothing when the digest is already there."""
    table, column = sql_names(UsedProof)
    return (
        f"INSERT INTO {table} ({column('digest')}, {column('created_at')}) VALUES (%s, %s) "  # noqa: S608
        f"ON CONFLICT ({column('digest')}) DO NOTHING"
    )


def _update_params(
    approval_id: UUID, status: str, reason: str, now: datetime, decided_by_id: int | None, unexpired_only: bool
) -> list[object]:
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
    return params


@cache
def _update_sql(unexpired_only: bool) -> str:
    table, column = sql_names(ApprovalRequest)
    expiry = f" AND {column('expires_at')} > %s" if unexpired_only else ""
    return (
        f"UPDATE {table} SET {column('status')} = %s, {column('status_reason')} = %s, "  # noqa: S608
        f"{column('decided_at')} = %s, {column('decided_by')} = %s "
        f"WHERE {column('id')} = %s AND {column('status')} = %s{expiry}"
    )
