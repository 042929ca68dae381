"""Rendering hot responses through an output serializer without rebuilding its fields per response.

``Serializer(obj).data`` deep-copies every declared field for each new serializer (DRF re-creates each
field from its arguments): for the relying status and the device's approval detail that is most of the
serializer's cost. Rendering is read-only, so one bound serializer per class can render for every
request and thread, provided its fields keep no per-call state and read no ``context`` (plain fields and
``SerializerMethodField`` on the serializer itself do; hyperlinked or context-dependent fields do not).
The serializer classes stay the documented response shapes (OpenAPI).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from rest_framework.serializers import Serializer


def represent(serializer_class: type[Serializer], instance: Any) -> dict[str, Any]:
    """What ``serializer_class(instance).data`` holds, from the class's one bound serializer."""
    return _bound(serializer_class).to_representation(instance)


@cache
def _bound(serializer_class: type[Serializer]) -> Serializer:
    serializer = serializer_class()
    _ = serializer.fields  # build and bind the fields once, now (a cached property)
    return serializer
