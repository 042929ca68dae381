"""mfa_server.shared_serializers: hot responses and inputs through one shared serializer per class give what a
fresh serializer gives (output; validated values and errors), call after call."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from approvals.api.serializers import ApprovalStatusSerializer, AuthInputSerializer, StatusQuerySerializer
from approvals.models import ApprovalRequest
from devices.api.serializers import ApprovalDetailSerializer, DecisionInputSerializer, DecisionOutputSerializer
from mfa_server.shared_serializers import represent, validated
from tests.helpers import run_together


@pytest.mark.parametrize(
    "serializer_class", [ApprovalStatusSerializer, ApprovalDetailSerializer, DecisionOutputSerializer]
)
def test_represent__same_as_a_fresh_serializer_for_pending_and_decided(serializer_class, relying, phone):
    pending = relying.auth("alice", ip="203.0.113.7", display_text="Webmail").json()
    decided = relying.auth("alice", display_text="second").json()
    assert phone.decide(decided["txid"], "approve", decided["number"]).status_code == 200

    for txid in (pending["txid"], decided["txid"]):
        approval = ApprovalRequest.objects.select_related("application__tenant", "subscriber").get(pk=txid)
        assert represent(serializer_class, approval) == serializer_class(approval).data


def test_represent__threads_rendering_different_rows_get_their_own(relying, phone):
    txids = [relying.auth("alice", display_text=f"login {n}").json()["txid"] for n in range(4)]
    approvals = list(ApprovalRequest.objects.select_related("application__tenant", "subscriber").filter(pk__in=txids))

    rendered = run_together(
        [lambda a=a: [represent(ApprovalStatusSerializer, a) for _ in range(200)] for a in approvals]
    )

    for approval, outputs in zip(approvals, rendered, strict=True):
        assert all(output == ApprovalStatusSerializer(approval).data for output in outputs)


INPUT_CASES = [
    (AuthInputSerializer, {"username": "alice", "context": {"ip": "203.0.113.7", "display_text": "Webmail"}}),
    (AuthInputSerializer, {"username": "alice"}),  # after a call with a context: no context is left over
    (AuthInputSerializer, {"username": "alice", "async": "false", "factor": "push"}),
    (AuthInputSerializer, {"username": "", "factor": "sms", "context": {"ip": "not-an-ip"}}),
    (AuthInputSerializer, {"username": "alice", "context": "nope"}),
    (AuthInputSerializer, ["alice"]),
    (AuthInputSerializer, None),  # a JSON null body
    (StatusQuerySerializer, QueryDict("wait=5")),  # what the view passes: request.query_params
    (StatusQuerySerializer, QueryDict("wait=abc&wait=1")),
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
    outcomes = [(reused(cls, data), fresh(cls, data)) for cls, data in INPUT_CASES * 2]
    for (ours, theirs), (cls, data) in zip(outcomes, INPUT_CASES * 2, strict=True):
        assert ours == theirs, (cls.__name__, data)
    assert {kind for (kind, _), _ in outcomes} == {"valid", "invalid"}


@pytest.mark.parametrize("serializer_class", [AuthInputSerializer, DecisionInputSerializer])
def test_validated__empty_body__names_the_required_fields(serializer_class):
    with pytest.raises(ValidationError) as raised:
        validated(serializer_class, {})
    assert raised.value.detail == fresh(serializer_class, {})[1]
    assert raised.value.detail
