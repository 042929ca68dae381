"""Signed decision webhooks to an application's callback URL: an outbox, retried with back-off."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from approvals.models import ApprovalRequest, WebhookDelivery
from audit.services import audit_record
from mfa_server.background import run_in_background
from mfa_server.crypto import decrypt_application_secret

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-MFA-Signature"
TIMESTAMP_HEADER = "X-MFA-Timestamp"


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA512 over ``timestamp + "." + body``, keyed with the application's secret key."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha512).hexdigest()


def webhook_enqueue(*, approval: ApprovalRequest, result: str) -> None:
    """Inside the deciding transaction: add an outbox row, and try it right after commit."""
    if not approval.application.callback_url:
        return
    delivery = WebhookDelivery.objects.create(
        application=approval.application,
        approval=approval,
        payload={
            "event": "approval.decided",
            "approval_id": str(approval.pk),
            "status": approval.status,
            "status_reason": approval.status_reason,
            "result": result,
            "username": approval.subscriber.username,
            "decided_at": approval.decided_at.isoformat() if approval.decided_at else None,
        },
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: run_in_background(webhook_attempt, delivery_id=delivery.pk))


def webhook_attempt(*, delivery_id: int) -> bool:
    """Claim a due delivery, POST it once, and schedule the next try on failure. True when delivered."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.MFA_WEBHOOK_TIMEOUT_SECONDS * 2)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=lease)
    if not claimed:
        return False
    delivery = WebhookDelivery.objects.select_related("application").get(pk=delivery_id)
    body = json.dumps(delivery.payload, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    secret = decrypt_application_secret(delivery.application.secret_encrypted)
    error = ""
    try:
        response = requests.post(
            delivery.application.callback_url,
            data=body,
            headers={
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: webhook_signature(secret=secret, timestamp=timestamp, body=body),
            },
            timeout=settings.MFA_WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
        if not 200 <= response.status_code < 300:
            error = f"http {response.status_code}"
    except requests.RequestException as exc:
        error = type(exc).__name__
    _record_attempt(delivery=delivery, error=error)
    return not error


def _record_attempt(*, delivery: WebhookDelivery, error: str) -> None:
    delivery.attempts += 1
    if not error:
        delivery.status, delivery.delivered_at, delivery.last_error = (
            WebhookDelivery.Status.DELIVERED,
            timezone.now(),
            "",
        )
    elif delivery.attempts >= settings.MFA_WEBHOOK_MAX_ATTEMPTS:
        delivery.status, delivery.last_error = WebhookDelivery.Status.FAILED, error
        audit_record(
            kind="webhook.failed",
            tenant_id=delivery.application.tenant_id,
            actor=f"app:{delivery.application.integration_key}",
            approval_id=delivery.approval_id,
            detail={"attempts": delivery.attempts, "error": error},
        )
    else:
        delivery.last_error = error
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=min(2**delivery.attempts, 300))
    delivery.save(update_fields=["attempts", "status", "delivered_at", "last_error", "next_attempt_at"])


def webhook_retry_due(*, limit: int = 100) -> int:
    """Worker: attempt every pending delivery whose time has come. Returns how many were attempted."""
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
        ).values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        webhook_attempt(delivery_id=delivery_id)
    return len(due)
