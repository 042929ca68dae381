"""Recording, sealing and verifying the audit trail."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditChain, AuditEvent
from mfa_server.rows import row_insert, sql_names

GENESIS_HASH = "0" * 64


def audit_record(**event: Any) -> None:
    """Append an event (``audit_event``'s arguments). Never pass secrets, codes or keys in ``detail``."""
    audit_append(audit_event(**event))


def audit_append(event: AuditEvent) -> None:
    """Append an event built by ``audit_event``."""
    row_insert(event)  # on every request path: without the ORM's compiler


def audit_event(
    *,
    kind: str,
    tenant_id: int | None,
    actor: str = "",
    subscriber_id: int | None = None,
    device_id: int | None = None,
    approval_id: Any = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """An event to append (unsaved), for a caller that inserts it together with its own rows."""
    return AuditEvent(
        kind=kind,
        tenant_id=tenant_id,
        actor=actor,
        subscriber_id=subscriber_id,
        device_id=device_id,
        approval_id=approval_id,
        ip=ip or None,
        detail=detail or {},
        created_at=timezone.now(),
    )


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    """SHA-256 over the event's content and its predecessor's hash (canonical JSON)."""
    content = {
        "id": event.pk,
        "seq": event.seq,
        "prev": prev_hash,
        "tenant": event.tenant_id,
        "kind": event.kind,
        "actor": event.actor,
        "subscriber": event.subscriber_id,
        "device": event.device_id,
        "approval": str(event.approval_id) if event.approval_id else None,
        "ip": event.ip,
        "detail": event.detail,
        "at": event.created_at.isoformat(),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def audit_seal(*, batch_size: int = 1000) -> int:
    """Link unsealed events into their tenant chains, oldest first. Returns how many were sealed."""
    sealed = 0
    # order_by(): the model's default ordering (-id) would make DISTINCT run over (tenant, id), one sealing
    # transaction per unsealed event instead of one per tenant.
    unsealed = AuditEvent.objects.filter(seq__isnull=True).order_by()
    tenant_ids = unsealed.values_list("tenant_id", flat=True).distinct()
    for tenant_id in list(tenant_ids):
        sealed += _seal_chain(tenant_id=tenant_id, batch_size=batch_size)
    return sealed


def _seal_chain(*, tenant_id: int | None, batch_size: int) -> int:
    with transaction.atomic():
        AuditChain.objects.get_or_create(chain_key=tenant_id or 0)
        head = AuditChain.objects.select_for_update().get(chain_key=tenant_id or 0)
        events = list(AuditEvent.objects.filter(tenant_id=tenant_id, seq__isnull=True).order_by("id")[:batch_size])
        links = []
        for event in events:
            event.seq = head.last_seq + 1
            event.prev_hash = head.last_hash
            event.hash = event_hash(event, head.last_hash)
            head.last_seq, head.last_hash = event.seq, event.hash
            links.append((event.seq, event.prev_hash, event.hash, event.pk))
        _links_write(links)
        head.save(update_fields=["last_seq", "last_hash"])
    return len(events)


def _links_write(links: list[tuple[int, str, str, int]]) -> None:
    """Store (seq, prev_hash, hash) per event id: one UPDATE by key per event, pipelined by psycopg's
    ``executemany``. ``bulk_update`` cost about 0.5 ms of CPU per event building its CASE expressions."""
    if not links:
        return
    table, column = sql_names(AuditEvent)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {column('seq')} = %s, {column('prev_hash')} = %s, {column('hash')} = %s "  # noqa: S608
            f"WHERE {column('id')} = %s",
            links,
        )


@dataclass(frozen=True)
class ChainBreak:
    tenant_id: int | None
    seq: int
    event_id: int
    reason: str


def audit_verify() -> tuple[int, list[ChainBreak]]:
    """Re-hash every sealed chain; return the number of events checked and the first break of each chain."""
    checked = 0
    breaks: list[ChainBreak] = []
    for head in AuditChain.objects.order_by("chain_key"):
        tenant_id = head.chain_key or None
        prev_hash, expected_seq = GENESIS_HASH, 1
        events = AuditEvent.objects.filter(tenant_id=tenant_id, seq__isnull=False).order_by("seq")
        for event in events.iterator(chunk_size=2000):
            checked += 1
            reason = ""
            if event.seq != expected_seq:
                reason = f"expected seq {expected_seq}, found {event.seq} (an event was removed or inserted)"
            elif event.prev_hash != prev_hash:
                reason = "prev_hash does not match the previous event"
            elif event.hash != event_hash(event, prev_hash):
                reason = "content does not match its hash (the event was altered)"
            if reason:
                breaks.append(ChainBreak(tenant_id=tenant_id, seq=event.seq or 0, event_id=event.pk, reason=reason))
                break
            prev_hash, expected_seq = event.hash, expected_seq + 1
        else:
            if head.last_seq != expected_seq - 1 or head.last_hash != prev_hash:
                breaks.append(
                    ChainBreak(tenant_id=tenant_id, seq=expected_seq, event_id=0, reason="events missing at the end")
                )
    return checked, breaks
