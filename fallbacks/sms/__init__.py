"""SMS backends, chosen in settings like Django's email backends: ``MFA_SMS = {"BACKEND": ..., "OPTIONS": {...}}``."""

from __future__ import annotations

import json
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from fallbacks.sms.base import SmsBackend


@cache
def _backend(config_json: str) -> SmsBackend:
    config = json.loads(config_json)
    options = {str(key).lower(): value for key, value in (config.get("OPTIONS") or {}).items()}
    return import_string(config["BACKEND"])(**options)


def get_sms_backend() -> SmsBackend:
    """The configured backend, built on first use and reused (the Twilio client keeps a connection pool)."""
    return _backend(json.dumps(settings.MFA_SMS, sort_keys=True))


@receiver(setting_changed)
def _reset_backend(*, setting: str, **kwargs: object) -> None:
    if setting == "MFA_SMS":
        _backend.cache_clear()
