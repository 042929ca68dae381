"""The push-fatigue facts (recent push times, last refusal) of one subscriber, read in one statement.

Every push login reads them before it is sent, so they are one hand-written ``UNION ALL`` (one round trip,
no ORM compilation: the two ORM queries cost about a third of the relying ``auth`` call's CPU). Each half
is there only when its rule is on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from django.db import connection

from approvals.models import ApprovalRequest
from mfa_server.rows import sql_names, value_from_db, value_to_db
from policies import engine

PUSH_TIME, REFUSAL = "p", "r"
# Explicit refusals by the user: these (and only these) start a cool-down. Timeouts and pushes the
# policy refused never count (DESIGN.md "Lessons from the field").
REFUSAL_REASONS = ("user_deny", "number_mismatch")


def push_fatigue_facts(
    *, subscriber_id: int, rules: engine.PolicyRules, now: datetime
) -> tuple[tuple[datetime, ...], datetime | None]:
    """(when the latest pushes in the push-limit window were sent, newest first; when the user last denied or
    reported a push). The newest ``push_limit`` pushes decide both the limit and when it frees up; pushes
    dated after ``now`` (a fast clock elsewhere) are not among them. Empty / None for a rule that is off."""
    meta = ApprovalRequest._meta
    created_at, decided_at = meta.get_field("created_at"), meta.get_field("decided_at")
    parts, params = [], []
    if rules.push_limit:
        window_start = now - timedelta(seconds=rules.push_window_seconds)
        parts.append(_push_times_sql())
        params += [subscriber_id, ApprovalRequest.Factor.PUSH, value_to_db(created_at, window_start)]
        params += [value_to_db(created_at, now), "bypass", rules.push_limit]
    if rules.cooldown_seconds:
        parts.append(_last_refusal_sql())
        params += [subscriber_id, ApprovalRequest.Status.FRAUD, subscriber_id, ApprovalRequest.Status.DENIED]
        params += REFUSAL_REASONS
    if not parts:
        return (), None
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    push_times = tuple(value_from_db(created_at, at) for kind, at in rows if kind == PUSH_TIME)
    refusals = [value_from_db(decided_at, at) for kind, at in rows if kind == REFUSAL]
    return tuple(sorted(push_times, reverse=True)), max(refusals, default=None)


@cache
def _push_times_sql() -> str:
    table, column = sql_names(ApprovalRequest)
    return (
        f"SELECT '{PUSH_TIME}', {column('created_at')} FROM (SELECT {column('created_at')} FROM {table} "  # noqa: S608
        f"WHERE {column('subscriber')} = %s AND {column('factor')} = %s AND {column('created_at')} > %s "
        f"AND {column('created_at')} <= %s AND {column('status_reason')} <> %s "
        f"ORDER BY {column('created_at')} DESC LIMIT %s) pushes"
    )


@cache
def _last_refusal_sql() -> str:
    """The latest fraud report and the latest user denial, each read backwards on the (subscriber, status,
    decided_at) index. One ``status = %s OR (status = %s AND ...)`` would not be: the generic plan of the
    prepared statement cannot use that index for an OR of parameters and reads every request the user ever
    had instead."""
    _, column = sql_names(ApprovalRequest)
    reasons = ", ".join(["%s"] * len(REFUSAL_REASONS))
    denials = _latest_decision_sql("denied", extra=f"AND {column('status_reason')} IN ({reasons}) ")
    return f"{_latest_decision_sql('fraud')} UNION ALL {denials}"


def _latest_decision_sql(alias: str, *, extra: str = "") -> str:
    """When the subscriber's (first parameter) latest request of one status (second parameter) was decided."""
    table, column = sql_names(ApprovalRequest)
    return (
        f"SELECT '{REFUSAL}', {column('decided_at')} FROM (SELECT {column('decided_at')} FROM {table} "  # noqa: S608
        f"WHERE {column('subscriber')} = %s AND {column('status')} = %s AND {column('decided_at')} IS NOT NULL "
        f"{extra}ORDER BY {column('decided_at')} DESC LIMIT 1) {alias}"
    )
