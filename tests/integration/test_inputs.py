"""mfa_server.inputs.validated: the same values and errors as a fresh serializer's is_valid, call after call."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from approvals.api.serializers import AuthInputSerializer, StatusQuerySerializer
from devices.api.serializers import DecisionInputSerializer
from mfa_server.inputs import validated

CASES = [
    (AuthInputSerializer, {"username": "alice", "context": {"ip": "203.0.113.7", "display_text": "Webmail"}}),
    (AuthInputSerializer, {"username": "alice"}),  # after a call with a context: no context is left over
    (AuthInputSerializer, {"username": "alice", "async": "false", "factor": "push"}),
    (AuthInputSerializer, {"username": "", "factor": "sms", "context": {"ip": "not-an-ip"}}),
    (AuthInputSerializer, {"username": "alice", "context": "nope"}),
    (AuthInputSerializer, ["alice"]),
    (StatusQuerySerializer, {"wait": "5"}),
    (StatusQuerySerializer, {}),
    (StatusQuerySerializer, {"wait": "61"}),
    (DecisionInputSerializer, {"decision": "approve", "number": "042", "timestamp": 1, "signature": "A" * 20}),
    (DecisionInputSerializer, {"decision": "deny", "timestamp": 1, "signature": "A" * 20}),
    (DecisionInputSerializer, {"decision": "maybe", "number": "12a", "timestamp": -1}),
]


def fresh(serializer_class: type, data: Any) -> tuple[str, Any]:
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return "valid", serializer.validated_data
    return "invalid", serializer.errors


def reused(serializer_class: type, data: Any) -> tuple[str, Any]:
    try:
        return "valid", validated(serializer_class, data)
    except ValidationError as exc:
        return "invalid", exc.detail


def test_validated__same_values_and_errors_as_a_fresh_serializer__call_after_call():
    outcomes = [(reused(cls, data), fresh(cls, data)) for cls, data in CASES * 2]
    for (ours, theirs), (cls, data) in zip(outcomes, CASES * 2, strict=True):
        assert ours == theirs, (cls.__name__, data)
    assert {kind for (kind, _), _ in outcomes} == {"valid", "invalid"}


@pytest.mark.parametrize("serializer_class", [AuthInputSerializer, DecisionInputSerializer])
def test_validated__empty_body__names_the_required_fields(serializer_class):
    with pytest.raises(ValidationError) as raised:
        validated(serializer_class, {})
    assert raised.value.detail == fresh(serializer_class, {})[1]
    assert raised.value.detail
