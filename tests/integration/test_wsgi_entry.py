"""The production WSGI entry (``mfa_server.wsgi``): finished bodies leave whole, streams still stream."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from mfa_server.wsgi import application

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _call(path: str) -> tuple[list[str], Any]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
    }
    statuses: list[str] = []
    body = application(environ, lambda status, _headers, _exc=None: statuses.append(status))
    return statuses, body


def test_plain_response__one_bytes_item__closed_before_it_is_returned(db):
    finished: list[bool] = []

    def on_finished(**_kwargs: Any) -> None:
        finished.append(True)

    request_finished.connect(on_finished)
    try:
        statuses, body = _call("/health")
    finally:
        request_finished.disconnect(on_finished)
    assert statuses == ["200 OK"]
    assert isinstance(body, list)
    assert len(body) == 1
    assert b'"ok"' in body[0]
    assert finished == [True], "the request ended (signals, pooled connection back) before the server sends"


def test_file_response__handed_over_to_be_iterated(tenant, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    tenant.brand_logo = SimpleUploadedFile("logo.png", PNG, content_type="image/png")
    tenant.save()
    statuses, body = _call(f"/approver/brand/{tenant.slug}/logo")
    try:
        assert statuses == ["200 OK"]
        assert not isinstance(body, list)
        assert b"".join(body) == PNG
    finally:
        body.close()


@pytest.fixture(autouse=True)
def _test_database_kept_open(settings):
    """As Django's test client does: a request's start and end must not close the test's connection."""
    settings.ALLOWED_HOSTS = ["testserver"]
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)
