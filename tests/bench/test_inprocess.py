"""bench/inprocess.py drives real round trips through the production WSGI entry without a server."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.relying_client import RelyingClient
from bench.inprocess import SERVER, WsgiSession
from bench.load import LEGS, round_trip
from devices.client import DeviceClient
from devices.services import enrollment_create
from mfa_server.wsgi import application


@pytest.fixture
def session(wsgi_calls_keep_test_connection):
    return WsgiSession(application)


def test_round_trip__in_process__allowed_and_counted_per_leg(session, issued_app, subscriber):
    code = enrollment_create(subscriber=subscriber, created_by="test").activation_code
    device = DeviceClient.activate(code, server=SERVER, name="Alice phone", session=session)
    relying = RelyingClient(SERVER, issued_app.application.integration_key, issued_app.secret_key, session=session)

    with CaptureQueriesContext(connection) as captured:
        statements = round_trip(relying, device, "alice", clock=lambda: len(captured.captured_queries))

    assert set(statements) == set(LEGS)
    assert all(statements[leg] > 0 for leg in ("auth", "fetch", "approve", "status"))
    assert statements["round_trip"] == sum(statements[leg] for leg in ("auth", "fetch", "approve", "status"))
