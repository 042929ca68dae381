"""Firebase Cloud Messaging through firebase-admin, with the operator's own credentials.

The Firebase app is created lazily as a *named* app on first send, never at import time.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import uuid
import warnings
from collections.abc import Sequence
from typing import Any

import firebase_admin
from django.conf import settings
from firebase_admin import credentials, messaging

from devices.delivery.base import DeliveryResult, PushMessage

logger = logging.getLogger("mfa.push.fcm")

# Errors meaning "this token will never work again": drop it instead of retrying forever.
_TOKEN_INVALID_ERRORS = (messaging.UnregisteredError, messaging.SenderIdMismatchError)


def _load_credentials() -> credentials.Base | None:
    raw = settings.MFA_FCM_CREDENTIALS_JSON
    if raw:
        if raw.lstrip().startswith("{"):
            info = json.loads(raw)
        elif os.path.exists(raw):
            with open(raw) as handle:
                info = json.load(handle)
        else:
            info = json.loads(base64.b64decode(raw))
        return credentials.Certificate(info)
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return credentials.ApplicationDefault()
    return None


class FcmPushBackend:
    """Sends a data-only, high-priority message to every device that registered an FCM token."""

    def __init__(self) -> None:
        self._app: firebase_admin.App | None = None
        self._lock = threading.Lock()
        self._disabled = False

    def _get_app(self) -> firebase_admin.App | None:
        with self._lock:
            if self._app is None and not self._disabled:
                creds = _load_credentials()
                if creds is None:
                    logger.warning("FCM backend configured without credentials; FCM delivery is off")
                    self._disabled = True
                    return None
                options: dict[str, Any] = {"httpTimeout": settings.MFA_FCM_TIMEOUT_SECONDS}
                if settings.MFA_FCM_PROJECT_ID:
                    options["projectId"] = settings.MFA_FCM_PROJECT_ID
                # A unique name: id(self) is reused once an old backend (settings change) is freed.
                self._app = firebase_admin.initialize_app(creds, options, name=f"mfa-fcm-{uuid.uuid4().hex}")
            return self._app

    def send(self, messages: Sequence[PushMessage]) -> list[DeliveryResult]:
        targets = [m for m in messages if m.fcm_token]
        app = self._get_app() if targets else None
        if app is None:
            return []
        with warnings.catch_warnings():
            # firebase-admin 7.7 deprecates Message.token in favour of installation ids; phones still
            # hand out registration tokens, which the v1 API accepts under "token".
            warnings.simplefilter("ignore", DeprecationWarning)
            batch = [
                messaging.Message(
                    token=m.fcm_token,
                    data=m.data,
                    android=messaging.AndroidConfig(priority="high", ttl=60),
                    apns=messaging.APNSConfig(
                        headers={"apns-priority": "10", "apns-push-type": "alert"},
                        payload=messaging.APNSPayload(aps=messaging.Aps(content_available=True)),
                    ),
                )
                for m in targets
            ]
        try:
            response = messaging.send_each(batch, app=app)
        except firebase_admin.exceptions.FirebaseError as exc:
            logger.warning("FCM batch failed: %s", exc.code)
            return [DeliveryResult(device_id=m.device_id, delivered=False, error=str(exc.code)) for m in targets]
        results = []
        for message, item in zip(targets, response.responses, strict=True):
            if item.success:
                results.append(DeliveryResult(device_id=message.device_id, delivered=True))
            else:
                error = item.exception
                results.append(
                    DeliveryResult(
                        device_id=message.device_id,
                        delivered=False,
                        token_invalid=isinstance(error, _TOKEN_INVALID_ERRORS),
                        error=getattr(error, "code", type(error).__name__),
                    )
                )
        return results
