"""Push delivery backends, chosen in settings like Django's email backends (``MFA_PUSH_BACKENDS``)."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from devices.delivery.base import PushBackend


@cache
def _backends(paths: tuple[str, ...]) -> tuple[PushBackend, ...]:
    return tuple(import_string(path)() for path in paths)


def get_push_backends() -> tuple[PushBackend, ...]:
    """One instance per configured backend, built on first use and reused (the FCM app is heavy)."""
    return _backends(tuple(settings.MFA_PUSH_BACKENDS))


@receiver(setting_changed)
def _reset_backends(*, setting: str, **kwargs: object) -> None:
    if setting in {"MFA_PUSH_BACKENDS", "MFA_FCM_CREDENTIALS_JSON", "MFA_FCM_PROJECT_ID", "MFA_FCM_TIMEOUT_SECONDS"}:
        _backends.cache_clear()
