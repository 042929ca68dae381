"""The production WSGI entry (``mfa_server.wsgi``): finished bodies leave whole, streams still stream, API
calls skip the middleware only browser pages need."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished

from bench.inprocess import SERVER, wsgi_environ
from mfa_server.wsgi import application

pytestmark = pytest.mark.usefixtures("wsgi_calls_keep_test_connection")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _call(path: str) -> tuple[list[str], dict[str, str], Any]:
    statuses: list[str] = []
    headers: dict[str, str] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], _exc: Any = None) -> None:
        statuses.append(status)
        headers.update((name.lower(), value) for name, value in response_headers)

    body = application(wsgi_environ("GET", SERVER + path), start_response)
    return statuses, headers, body


def test_plain_response__one_bytes_item__closed_before_it_is_returned(db):
    finished: list[bool] = []

    def on_finished(**_kwargs: Any) -> None:
        finished.append(True)

    request_finished.connect(on_finished)
    try:
        statuses, _headers, body = _call("/health")
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
    statuses, _headers, body = _call(f"/approver/brand/{tenant.slug}/logo")
    try:
        assert statuses == ["200 OK"]
        assert not isinstance(body, list)
        assert b"".join(body) == PNG
    finally:
        body.close()


@pytest.mark.parametrize(("path", "status"), [("/auth/v2/ping", "200 OK"), ("/api/v1/check", "401 Unauthorized")])
def test_api_call__lean_middleware__security_headers_kept(db, path, status):
    statuses, headers, _body = _call(path)
    assert statuses == [status]
    assert headers["x-content-type-options"] == "nosniff"  # SecurityMiddleware runs for every call
    assert "x-frame-options" not in headers  # a JSON answer is never framed: no clickjacking middleware
    assert "cookie" not in headers.get("vary", "").lower()  # nor sessions


def test_page__full_middleware__frame_options_and_csrf_cookie(db):
    statuses, headers, _body = _call("/admin/login/")
    assert statuses == ["200 OK"]
    assert headers["x-frame-options"] == "DENY"
    assert "csrftoken=" in headers["set-cookie"]
