"""Applications and policies cached per process (with Redis): changes take effect on the next request."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from approvals.services import application_rotate_secret
from mfa_server.config_cache import GENERATION_KEY
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


def test_shared_cache_flushed__process_reloads(relying, phone, django_assert_max_num_queries):
    txid = relying.auth("alice").json()["txid"]
    status_queries(relying, txid, django_assert_max_num_queries)
    cache.clear()  # the generation token is gone: nothing cached before may be trusted

    assert status_queries(relying, txid, django_assert_max_num_queries) == 3  # application, policy, transaction


def test_token_expired__process_reloads_even_without_a_change(relying, phone, settings, django_assert_max_num_queries):
    settings.MFA_CONFIG_CACHE_MAX_AGE_SECONDS = 37
    cache.clear()
    txid = relying.auth("alice").json()["txid"]  # a new token, living 37 seconds
    assert status_queries(relying, txid, django_assert_max_num_queries) == 1
    shared, key = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]), cache.make_key(GENERATION_KEY)
    assert 36_000 < shared.pttl(key) <= 37_000  # a lost change notice is bounded by this age
    shared.delete(key)  # what Redis does when that age is up

    assert status_queries(relying, txid, django_assert_max_num_queries) == 3


def test_another_process_changed_the_configuration__next_request_reloads(relying, phone, django_assert_max_num_queries):
    txid = relying.auth("alice").json()["txid"]
    assert status_queries(relying, txid, django_assert_max_num_queries) == 1
    # What another process's save does: a new generation token in Redis (no signal reaches this process).
    redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]).set(cache.make_key(GENERATION_KEY), "elsewhere")

    assert status_queries(relying, txid, django_assert_max_num_queries) == 3  # application, policy, transaction
    assert status_queries(relying, txid, django_assert_max_num_queries) == 1
