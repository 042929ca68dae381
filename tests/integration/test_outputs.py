"""Hot responses rendered through one shared serializer per class equal a fresh serializer's output."""

from __future__ import annotations

import pytest

from approvals.api.serializers import ApprovalStatusSerializer
from approvals.models import ApprovalRequest
from devices.api.serializers import ApprovalDetailSerializer, DecisionOutputSerializer
from mfa_server.outputs import represent
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
