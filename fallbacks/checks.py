"""System checks: the SMS backend must import, and the console / locmem backends are for development."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.utils.module_loading import import_string

_DEV_BACKENDS = ("fallbacks.sms.console.ConsoleSmsBackend", "fallbacks.sms.locmem.LocmemSmsBackend")


@register()
def sms_backend_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    path = settings.MFA_SMS.get("BACKEND", "")
    try:
        import_string(path)
    except ImportError:
        return [Error(f"MFA_SMS BACKEND {path!r} cannot be imported", id="fallbacks.E001")]
    if path in _DEV_BACKENDS and not settings.DEBUG:
        return [
            Warning(
                "MFA_SMS uses a development backend: SMS codes are printed or kept in memory, not sent",
                hint="Set MFA_SMS_BACKEND (e.g. fallbacks.sms.twilio.TwilioSmsBackend) and MFA_SMS_OPTIONS.",
                id="fallbacks.W001",
            )
        ]
    return []
