"""bench/request_floor.py serves each application with deploy/Procfile's http line."""

from __future__ import annotations

import json
import os
import signal

import pytest

from bench.request_floor import APPLICATIONS, connect_when_ready, serve
from tests.helpers import free_port

EXPECTED = {"bench.bare_wsgi:application": {}, "mfa_server.wsgi:application": {"status": "ok"}}


@pytest.mark.parametrize("application", APPLICATIONS.values())
def test_request_floor__each_application__served_by_the_procfile_http_line(application):
    port = free_port()
    process = serve(application, port)
    try:
        connection = connect_when_ready(port)
        connection.request("GET", "/health")
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (200, EXPECTED[application])
        connection.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
