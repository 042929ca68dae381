"""Fixtures of the policy tests: policies, relying clients behind a (trusted or not) proxy, certificates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from policies.models import Policy
from tests.helpers import SignedClient
from tests.policies.certs import MiniCa


@pytest.fixture
def tenant_policy(tenant) -> Callable[..., Policy]:
    """``tenant_policy(**fields)``: create or update the tenant default, validated like the admin does."""

    def make(**fields: Any) -> Policy:
        policy = Policy.objects.filter(tenant=tenant, application__isnull=True).first() or Policy(tenant=tenant)
        for name, value in fields.items():
            setattr(policy, name, value)
        policy.full_clean()
        policy.save()
        return policy

    return make


@pytest.fixture
def relying_via(issued_app) -> Callable[..., SignedClient]:
    """``relying_via(REMOTE_ADDR=..., HTTP_X_...=...)``: a signed relying client whose requests carry these META."""

    def make(**meta: str) -> SignedClient:
        return SignedClient(Client(**meta), issued_app.application.integration_key, issued_app.secret_key)

    return make


@pytest.fixture(scope="session")
def client_ca() -> MiniCa:
    return MiniCa("Acme Client CA")
