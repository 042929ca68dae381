"""bench/request_floor.py serves each application with deploy/Procfile's http line, at the path it measures."""

from __future__ import annotations

import json

import pytest

from bench.request_floor import FLOORS, connect_when_ready, serve
from bench.servers import stop_group
from tests.helpers import free_port


def _ping_body(body: dict) -> bool:
    return body["stat"] == "OK" and isinstance(body["response"]["time"], int)


# floor name -> what its server answers: each floor must be served by the application it names.
ANSWERS = {
    "bare WSGI callable": lambda body: body == {},
    "Django GET /health": lambda body: body == {"status": "ok"},
    "DRF GET /auth/v2/ping": _ping_body,
}


@pytest.mark.parametrize("floor", FLOORS)
def test_request_floor__each_floor__served_by_the_procfile_http_line(floor):
    application, path = FLOORS[floor]
    port = free_port()
    process = serve(application, port)
    try:
        connection = connect_when_ready(port)
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 200
        assert ANSWERS[floor](json.loads(response.read()))
        connection.close()
    finally:
        stop_group(process)
