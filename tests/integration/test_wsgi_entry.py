"""The production WSGI entry (``mfa_server.wsgi``): finished bodies leave whole, streams still stream."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished

from bench.inprocess import SERVER, wsgi_environ
from mfa_server.wsgi import application

pytestmark = pytest.mark.usefixtures("wsgi_calls_keep_test_connection")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _get(path: str) -> tuple[list[str], Any]:
    statuses: list[str] = []
    body = application(wsgi_environ("GET", SERVER + path), lambda status, _headers, _exc=None: statuses.append(status))
    return statuses, body


def test_plain_response__one_bytes_item__closed_before_it_is_returned(db):
    finished: list[bool] = []

    def on_finished(**_kwargs: Any) -> None:
        finished.append(True)

    request_finished.connect(on_finished)
    try:
        statuses, body = _get("/health")
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
    statuses, body = _get(f"/approver/brand/{tenant.slug}/logo")
    try:
        assert statuses == ["200 OK"]
        assert not isinstance(body, list)
        assert b"".join(body) == PNG
    finally:
        body.close()
