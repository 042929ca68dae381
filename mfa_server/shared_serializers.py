"""Hot request input and responses through one bound serializer per class, shared by every request.

``Serializer(obj).data`` and ``Serializer(data=...).is_valid()`` deep-copy every declared field for each
new serializer (DRF re-creates each field from its arguments): for the relying status, the device's
approval detail and the relying ``auth`` body that is about half of the serializer's cost. Rendering and
validating keep their state in local variables (``to_representation`` / ``run_validation`` return the
result or raise), so one bound serializer per class can serve every request and thread, provided its
fields and ``validate`` methods keep no per-call state and read no ``context`` (plain fields, nested plain
serializers and ``SerializerMethodField`` on the serializer itself do; hyperlinked or context-dependent
fields do not). The serializer classes stay the documented request and response shapes (OpenAPI).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from rest_framework.serializers import Serializer


def represent(serializer_class: type[Serializer], instance: Any) -> dict[str, Any]:
    """What ``serializer_class(instance).data`` holds."""
    return _bound(serializer_class).to_representation(instance)


def validated(serializer_class: type[Serializer], data: Any) -> dict[str, Any]:
    """What ``serializer_class(data=data)`` holds as ``validated_data`` once valid; otherwise raises the
    ``ValidationError`` (field -> messages) that ``is_valid(raise_exception=True)`` raises."""
    if data is None:  # a JSON ``null`` body: is_valid words that error itself ("No data provided")
        serializer_class(data=data).is_valid(raise_exception=True)
    return _bound(serializer_class).run_validation(data)


@cache
def _bound(serializer_class: type[Serializer]) -> Serializer:
    serializer = serializer_class()
    _ = serializer.fields  # build and bind the fields once, now (a cached property)
    return serializer
