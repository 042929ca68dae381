"""Append-only audit events, hash-chained per tenant when sealed."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One security-relevant fact. Rows are inserted unsealed; the sealer links them into their tenant's chain.

    Sealing in batches keeps the request path free of a per-chain lock: writers only INSERT.
    """

    tenant = models.ForeignKey(
        "tenants.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # (tenant, seq) leads with it
    )
    kind = models.CharField(max_length=60)
    actor = models.CharField(
        max_length=200, blank=True, help_text="Who caused it: app:<ikey>, device:<id>, admin:<user>."
    )
    subscriber_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    device_id = models.BigIntegerField(null=True, blank=True)
    approval_id = models.UUIDField(null=True, blank=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    # Chain fields, filled by the sealer.
    seq = models.BigIntegerField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        # Each event is written twice (inserted, then sealed), each time into every index: no index that
        # another one's leading columns cover, no ``varchar_pattern_ops`` twin for ``kind``.
        indexes = [
            models.Index(fields=["tenant", "seq"]),
            models.Index(fields=["kind"], name="audit_kind_idx"),
            # The sealer's queue: only unsealed events are in it, so it stays as small as the backlog.
            models.Index(fields=["tenant", "id"], condition=models.Q(seq__isnull=True), name="audit_unsealed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class AuditChain(models.Model):
    """The head of one tenant's chain (tenant 0 holds events without a tenant)."""

    chain_key = models.BigIntegerField(unique=True)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
