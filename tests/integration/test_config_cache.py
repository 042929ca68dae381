"""Applications and policies cached per process (with Redis): changes take effect on the next request.

Across real processes: tests/live/test_production_layout.py.
"""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from approvals.services import application_rotate_secret
from mfa_server.config_cache import CHANGES_CHANNEL, SUBSCRIPTION_CLIENT_NAME
from policies.models import Policy
from tests.helpers import SignedClient

pytestmark = pytest.mark.redis  # the configuration cache needs a shared cache


def status_queries(relying: SignedClient, txid: str, django_assert_max_num_queries) -> int:
    with django_assert_max_num_queries(10) as captured:
        assert relying.status(txid).status_code == 200
    return len(captured.captured_queries)


def test_status__second_poll__application_and_policy_from_the_cache(relying, phone, django_assert_max_num_queries):
    txid = relying.auth("alice").json()["txid"]
    assert status_queries(relying, txid, django_assert_max_num_queries) == 1  # the transaction only


def test_policy_saved__next_request_applies_it(relying, phone, tenant):
    assert relying.auth("alice", ip="203.0.113.7").status_code == 201  # policy now cached
    Policy.objects.create(tenant=tenant, user_networks_allow="198.51.100.0/24")

    refused = relying.auth("alice", ip="203.0.113.7", display_text="again")  # not a replay of the first

    assert refused.status_code == 403, refused.json()
    assert refused.json()["code"] == "policy_denied"


def test_secret_rotated__old_secret_refused_at_once(relying, issued_app):
    assert relying.request("GET", "/api/v1/check").status_code == 200  # application now cached
    new_secret = application_rotate_secret(application=issued_app.application, actor="test")

    assert relying.request("GET", "/api/v1/check").status_code == 401
    assert relying.request("GET", "/api/v1/check", skey=new_secret).status_code == 200


def test_application_deactivated__refused_at_once(relying, issued_app):
    assert relying.request("GET", "/api/v1/check").status_code == 200
    issued_app.application.is_active = False
    issued_app.application.save(update_fields=["is_active"])

    assert relying.request("GET", "/api/v1/check").status_code == 401


def shared_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])


def test_subscription_killed__process_reloads_then_caches_again(relying, phone, django_assert_max_num_queries):
    txid = relying.auth("alice").json()["txid"]
    assert status_queries(relying, txid, django_assert_max_num_queries) == 1
    shared = shared_redis()
    ours = [client for client in shared.client_list() if client["name"] == SUBSCRIPTION_CLIENT_NAME]
    assert ours, "this process subscribes to the change notices"
    for client in ours:  # notices sent from now until it subscribes again would be lost
        shared.client_kill_filter(_id=client["id"])

    assert status_queries(relying, txid, django_assert_max_num_queries) == 3  # application, policy, transaction
    assert status_queries(relying, txid, django_assert_max_num_queries) == 1  # subscribed again


def test_max_age_reached__reloads_even_without_a_change(relying, phone, settings, django_assert_max_num_queries):
    settings.MFA_CONFIG_CACHE_MAX_AGE_SECONDS = 2
    txid = relying.auth("alice").json()["txid"]
    assert status_queries(relying, txid, django_assert_max_num_queries) == 1
    time.sleep(2)  # a lost change notice is bounded by this age

    assert status_queries(relying, txid, django_assert_max_num_queries) == 3
    assert status_queries(relying, txid, django_assert_max_num_queries) == 1


def test_another_process_changed_the_configuration__next_request_reloads(relying, phone, django_assert_max_num_queries):
    txid = relying.auth("alice").json()["txid"]
    assert status_queries(relying, txid, django_assert_max_num_queries) == 1
    # What another process's save does: a notice on the channel (no signal reaches this process).
    assert shared_redis().publish(cache.make_key(CHANGES_CHANNEL), "changed") >= 1  # heard by this process

    assert status_queries(relying, txid, django_assert_max_num_queries) == 3  # application, policy, transaction
    assert status_queries(relying, txid, django_assert_max_num_queries) == 1
