"""Validating hot request input through an input serializer without rebuilding its fields per request.

The counterpart of ``mfa_server.outputs``: ``Serializer(data=...)`` deep-copies every declared field for
each new serializer, about half of what validating a relying ``auth`` body costs. Validation keeps its
state in local variables (``run_validation`` returns the values or raises), so one bound serializer per
class can validate for every request and thread, provided its fields and ``validate`` methods read no
``context`` and keep nothing between calls (plain fields and nested plain serializers do). The serializer
classes stay the documented request shapes (OpenAPI).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from rest_framework.serializers import Serializer


def validated(serializer_class: type[Serializer], data: Any) -> dict[str, Any]:
    """What ``serializer_class(data=data)`` holds as ``validated_data`` once valid; otherwise raises the
    ``ValidationError`` (field -> messages) that ``is_valid(raise_exception=True)`` raises."""
    return _bound(serializer_class).run_validation(data)


@cache
def _bound(serializer_class: type[Serializer]) -> Serializer:
    serializer = serializer_class()
    _ = serializer.fields  # build and bind the fields once, now (a cached property)
    return serializer
