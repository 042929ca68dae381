"""bench/transport.py against a real HTTP/1.1 server: framing, keep-alive, and a connection the server closed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.transport import KeepAliveSession


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless a response says otherwise
    connections: list[int] = []  # noqa: RUF012  (the client ports seen, one per new connection)

    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        if self.client_address[1] not in self.connections:
            self.connections.append(self.client_address[1])
        body = self.rfile.read(int(self.headers["Content-Length"]))
        echo = json.dumps(
            {"path": self.path, "body": body.decode(), "signature": self.headers.get("X-Signature")}
        ).encode()
        if self.path.startswith("/chunked"):
            self.send_response(201)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(echo), 7):
                part = echo[start : start + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(echo)))
        if self.path.startswith("/close"):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(echo)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.connections = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_session__content_length_and_chunked__bodies_and_headers_arrive_whole(server):
    session = KeepAliveSession()
    plain = session.post(f"{server}/plain?x=1", json={"a": 1}, headers={"X-Signature": "s1"})
    chunked = session.request("POST", f"{server}/chunked", data=b"raw bytes", headers={"X-Signature": "s2"})
    assert (plain.status_code, plain.json()) == (200, {"path": "/plain?x=1", "body": '{"a": 1}', "signature": "s1"})
    assert (chunked.status_code, chunked.json()) == (201, {"path": "/chunked", "body": "raw bytes", "signature": "s2"})
    assert len(_Handler.connections) == 1  # both on one kept-alive connection
    session.close()


def test_session__server_closes__next_request_on_a_new_connection(server):
    session = KeepAliveSession()
    first = session.post(f"{server}/close", json={})
    second = session.post(f"{server}/plain", json={})
    assert (first.status_code, second.status_code) == (200, 200)
    assert len(_Handler.connections) == 2
    session.close()
