from __future__ import annotations

import os

import pytest
from asgiref.sync import SyncToAsync
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections
from django.test import Client

from approvals.services import IssuedApplication, application_create
from devices.delivery import locmem
from devices.services import device_activate, enrollment_create
from tenants.models import Subscriber, Tenant
from tenants.services import subscriber_get_or_create, tenant_create
from tests.helpers import PasscodeDevice, PhoneDevice, SignedClient


@pytest.fixture
def tenant(db) -> Tenant:
    return tenant_create(name="Acme Bank", slug="acme")


@pytest.fixture
def issued_app(tenant) -> IssuedApplication:
    return application_create(tenant=tenant, name="Webmail")


@pytest.fixture
def relying(issued_app) -> SignedClient:
    return SignedClient(Client(), issued_app.application.integration_key, issued_app.secret_key)


@pytest.fixture
def subscriber(tenant) -> Subscriber:
    return subscriber_get_or_create(tenant=tenant, username="alice")


def make_device(subscriber: Subscriber, name: str = "Alice phone", fcm_token: str = "") -> PhoneDevice:
    issued = enrollment_create(subscriber=subscriber, created_by="test")
    key, pem = PhoneDevice.new_key()
    activated = device_activate(
        code=issued.activation_code, public_key_pem=pem, name=name, platform="test", fcm_token=fcm_token
    )
    return PhoneDevice(Client(), key, activated.device.pk, activated.device_token)


@pytest.fixture
def phone(subscriber) -> PhoneDevice:
    return make_device(subscriber)


@pytest.fixture
def passcode_phone(phone: PhoneDevice) -> PasscodeDevice:
    """Alice's phone after provisioning its passcode secret over the device API."""
    response = phone.client.post("/api/v1/device/passcode-secret", **phone.headers)
    assert response.status_code == 201, response.json()
    return PasscodeDevice(device=phone, secret=response.json()["secret"])


@pytest.fixture
def wsgi_calls_keep_test_connection():
    """For tests that call a WSGI application directly, as Django's test client does: closing "old"
    connections when a request starts or ends would end the test's transaction."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def push_outbox():
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture(autouse=True)
def _skip_without_backing_services(request: pytest.FixtureRequest) -> None:
    """``@pytest.mark.postgres`` needs a PostgreSQL DATABASE_URL, ``@pytest.mark.redis`` a REDIS_URL."""
    if request.node.get_closest_marker("postgres") and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL")
    if request.node.get_closest_marker("redis") and not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from mfa_server.config_cache import announce_change

    cache.clear()
    announce_change()  # the previous test's database is gone: so is what processes cached from it


@pytest.fixture(scope="session", autouse=True)
def _async_tests_return_their_connection(django_db_setup):
    """Async tests make their ORM calls on asgiref's one thread for synchronous code, whose pooled connection
    no request ever gives back: return it before the test database is dropped, which PostgreSQL refuses
    while a session still uses it."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
