"""Helpers of the fallback suite: relying calls for codes, snapshots for "nothing changed" checks."""

from __future__ import annotations

import itertools
from typing import Any

from approvals.models import ApprovalRequest
from fallbacks.lockout import failures_in_a_row
from fallbacks.models import OneTimeCode, SmsSend, SubscriberBackoff
from tenants.models import Subscriber
from tests.helpers import PhoneDevice, SignedClient, wait_until

UK_MOBILE = "+447400123456"  # libphonenumber's example GB mobile
_logins = itertools.count(1)


def start_push(relying: SignedClient, username: str = "alice") -> str:
    response = relying.auth(username)
    assert response.status_code == 201, response.json()
    return response.json()["txid"]


def pushed_before_a_later_push(relying: SignedClient, push_outbox: list[Any]) -> list[dict[str, str]]:
    """The data of the pushes in the outbox once a push login started now has been delivered (in a
    ``transaction=True`` test, so notices go out on commit), that one left out. Pushes go out from a pool
    of threads, so one asked for earlier is very likely, not certainly, delivered by then: wait for an
    expected one first."""
    later = start_push(relying)
    wait_until(lambda: any(message.data["approval_id"] == later for message in push_outbox))
    return [message.data for message in push_outbox if message.data["approval_id"] != later]


def fallback(relying: SignedClient, txid: str, factor: str) -> Any:
    return relying.request("POST", f"/api/v1/auth/{txid}/fallback", body={"factor": factor})


def verify(relying: SignedClient, txid: str, code: str) -> Any:
    return relying.request("POST", f"/api/v1/auth/{txid}/verify", body={"code": code})


def passcode(relying: SignedClient, value: str, username: str = "alice", **context: Any) -> Any:
    """POST /auth/passcode; each call is a distinct login (a fresh nonce in the context), not a replay."""
    context.setdefault("display_text", f"login {next(_logins)}")
    body = {"username": username, "passcode": value, "context": context}
    return relying.request("POST", "/api/v1/auth/passcode", body=body)


def session_codes(phone: PhoneDevice) -> list[dict[str, Any]]:
    response = phone.get("codes")
    assert response.status_code == 200, response.json()
    return response.json()


def wrong(code: str) -> str:
    """A code of the same length that is not ``code``."""
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def snapshot() -> tuple[Any, ...]:
    """What a refused request must leave unchanged (besides its audit row)."""
    return (
        list(ApprovalRequest.objects.order_by("pk").values_list("pk", "status", "factor", "expires_at")),
        list(OneTimeCode.objects.order_by("pk").values_list("pk", "attempts", "used_at", "invalidated_at")),
        SmsSend.objects.count(),
        list(Subscriber.objects.order_by("pk").values_list("pk", "status", "failed_attempts")),
        list(SubscriberBackoff.objects.order_by("pk").values_list("subscriber_id", "failures", "next_attempt_at")),
    )


def streak(subscriber: Subscriber) -> int:
    """Consecutive wrong codes of the subscriber (the lockout counter)."""
    return failures_in_a_row(subscriber=subscriber)
