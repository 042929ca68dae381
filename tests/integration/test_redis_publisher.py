"""The request path's Redis publisher against the real Redis: delivery, and a new connection after a broken one."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest
import redis

from mfa_server.redis_clients import PUBLISHER_CLIENT_NAME, TIMEOUT_SECONDS, Publisher
from tests.helpers import run_together

pytestmark = pytest.mark.redis

CHANNEL = "mfa:test-publisher"


@pytest.fixture
def admin() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"])


@pytest.fixture
def listener(admin: redis.Redis) -> Iterator[redis.client.PubSub]:
    pubsub = admin.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    yield pubsub
    pubsub.close()


def heard(pubsub: redis.client.PubSub) -> list[bytes]:
    """Every message that arrives within half a second (the subscription's confirmation is skipped)."""
    messages, deadline = [], time.monotonic() + 0.5
    while (left := deadline - time.monotonic()) > 0:
        if (message := pubsub.get_message(timeout=left)) is not None:
            messages.append(message["data"])
    return messages


def publisher_ids(admin: redis.Redis) -> set[int]:
    return {int(client["id"]) for client in admin.client_list() if client["name"] == PUBLISHER_CLIENT_NAME}


def test_publish__every_subscriber_hears_it_and_the_count_says_so(listener):
    publisher = Publisher(os.environ["REDIS_URL"])

    assert publisher.publish(CHANNEL, b"first") == 1
    assert publisher.publish(CHANNEL, "second") == 1

    assert heard(listener) == [b"first", b"second"]


def test_publish__connection_killed__that_call_fails_and_the_next_connects_anew(admin, listener):
    publisher = Publisher(os.environ["REDIS_URL"])
    before = publisher_ids(admin)
    assert publisher.publish(CHANNEL, b"before") == 1
    (own,) = publisher_ids(admin) - before
    assert admin.client_kill_filter(_id=own) == 1

    with pytest.raises(redis.ConnectionError):
        publisher.publish(CHANNEL, b"lost")
    assert publisher.publish(CHANNEL, b"after") == 1

    assert heard(listener) == [b"before", b"after"]
    assert own not in publisher_ids(admin)


def test_publish__nothing_listens_at_the_address__connection_error_every_time():
    publisher = Publisher("redis://127.0.0.1:1")  # a privileged port nothing here serves

    for _ in range(2):
        with pytest.raises(redis.ConnectionError):
            publisher.publish(CHANNEL, b"nobody")


def test_publish__redis_never_answers__every_call_gives_up_within_its_bounds():
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel's backlog) and never answers
    publisher = Publisher(f"redis://127.0.0.1:{silent.getsockname()[1]}")
    started = time.monotonic()
    try:
        outcomes = run_together([lambda: publisher.publish(CHANNEL, b"late")] * 3)  # queued behind one another
    finally:
        silent.close()

    assert [type(outcome) for outcome in outcomes] == [redis.TimeoutError] * 3
    assert time.monotonic() - started < 2 * TIMEOUT_SECONDS + 1  # its turn, then Redis: each bounded
