"""Periodic housekeeping: time out unanswered requests, retry webhooks, seal the audit chain."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from approvals.models import UsedProof
from approvals.services import approval_requests_expire_due
from approvals.webhooks import webhook_retry_due
from audit.services import audit_seal
from duo.housekeeping import duo_housekeeping
from fallbacks.services import fallbacks_housekeeping
from pki.services import crl_refresh_due

logger = logging.getLogger(__name__)


def run_once() -> dict[str, int]:
    """One sweep; returns what it did."""
    expired = approval_requests_expire_due()
    webhooks = webhook_retry_due()
    # A proof older than twice the skew window is refused as stale anyway, so its digest can go.
    horizon = timezone.now() - timedelta(seconds=2 * settings.MFA_PROOF_SKEW_SECONDS)
    pruned, _ = UsedProof.objects.filter(created_at__lt=horizon).delete()
    sealed = audit_seal()
    crls = crl_refresh_due()  # re-sign CRLs before their nextUpdate
    codes = fallbacks_housekeeping()  # wipe dead session-code copies, forget old TOTP steps
    duo_rows = duo_housekeeping()  # expired prompt sessions, Verified Push offers, used assertion ids
    return {
        "expired": expired,
        "webhooks": webhooks,
        "proofs_pruned": pruned,
        "audit_sealed": sealed,
        "crls_published": crls,
        "fallback_codes_cleaned": codes,
        "duo_rows_purged": duo_rows,
    }


def run_forever(stop: threading.Event) -> None:
    """Sweep every ``MFA_WORKER_INTERVAL_SECONDS`` until ``stop`` is set; a failing sweep is logged and retried."""
    while not stop.is_set():
        try:
            run_once()
        except Exception:
            logger.exception("worker sweep failed")
        finally:
            close_old_connections()
        stop.wait(settings.MFA_WORKER_INTERVAL_SECONDS)
