"""Web Push (RFC 8030 + RFC 8291 aes128gcm + RFC 8292 VAPID) through pywebpush, for the approver web app.

The payload is ``{"approval_id": ...}`` only (the notifier builds it): the service worker fetches the
details over the device session. No VAPID key configured means Web Push is off (nothing is sent).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import cache

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from py_vapid import Vapid02, b64urlencode
from pywebpush import WebPushException, webpush

from devices.delivery.base import DeliveryResult, PushMessage

logger = logging.getLogger("mfa.push.webpush")

# Push-service answers meaning "this subscription is gone": drop it instead of retrying forever.
_GONE = (404, 410)
_TIMEOUT_SECONDS = 10.0


@cache
def _vapid(private_key: str) -> Vapid02 | None:
    if not private_key:
        return None
    if "-----BEGIN" in private_key:
        return Vapid02.from_pem(private_key.encode())
    return Vapid02.from_string(private_key)


def vapid_key() -> Vapid02 | None:
    """The configured VAPID key, or None when Web Push is off."""
    return _vapid(settings.MFA_WEBPUSH_VAPID_PRIVATE_KEY)


def vapid_public_key() -> str:
    """base64url uncompressed P-256 point: the ``applicationServerKey`` for ``pushManager.subscribe()``."""
    key = vapid_key()
    if key is None:
        return ""
    raw = key.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64urlencode(raw)


@receiver(setting_changed)
def _reset_vapid(*, setting: str, **kwargs: object) -> None:
    if setting == "MFA_WEBPUSH_VAPID_PRIVATE_KEY":
        _vapid.cache_clear()


class WebPushBackend:
    """Sends an encrypted, VAPID-signed, high-urgency push to each device with a Web Push subscription."""

    def send(self, messages: Sequence[PushMessage]) -> list[DeliveryResult]:
        targets = [m for m in messages if m.webpush_subscription.get("endpoint")]
        key = vapid_key() if targets else None
        if key is None:
            return []
        return [self._send_one(key, message) for message in targets]

    def _send_one(self, key: Vapid02, message: PushMessage) -> DeliveryResult:
        try:
            webpush(
                subscription_info=message.webpush_subscription,
                data=json.dumps(message.data, separators=(",", ":")),
                vapid_private_key=key,
                # pywebpush writes "aud" and "exp" into this dict: a fresh one per push service.
                vapid_claims={"sub": settings.MFA_WEBPUSH_SUBJECT},
                ttl=settings.MFA_WEBPUSH_TTL_SECONDS,
                headers={"Urgency": "high"},
                timeout=_TIMEOUT_SECONDS,
            )
        except WebPushException as exc:
            status = getattr(exc.response, "status_code", None)
            logger.warning("web push to device %s failed: %s", message.device_id, status)
            return DeliveryResult(
                device_id=message.device_id,
                delivered=False,
                token_invalid=status in _GONE,
                error=f"http_{status}" if status else "webpush_error",
                channel="webpush",
            )
        except (OSError, ValueError) as exc:  # connection refused, DNS, malformed subscription keys
            logger.warning("web push to device %s failed: %s", message.device_id, type(exc).__name__)
            return DeliveryResult(
                device_id=message.device_id, delivered=False, error=type(exc).__name__, channel="webpush"
            )
        return DeliveryResult(device_id=message.device_id, delivered=True, channel="webpush")
