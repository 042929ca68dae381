"""A lean keep-alive HTTP/1.1 session: just enough of ``requests.Session`` for the project's own clients.

``RelyingClient`` and ``DeviceClient`` take a ``session``; this one keeps one plain socket per host and
reads only what a response's framing needs (status, ``Content-Length`` or chunks, ``Connection: close``).
The load generator shares the 2 cores with the server it measures: ``http.client`` spent 122 us of CPU
per request against a bare WSGI app here (its header parsing goes through the ``email`` package), this
30 us.
"""

from __future__ import annotations

import json as jsonlib
import socket
from typing import Any
from urllib.parse import urlsplit

_RECEIVE = 65536


class Response:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class ConnectionClosedError(ConnectionError):
    """The server closed the connection before a whole response arrived."""


class _Connection:
    """One socket and the bytes read past the last response."""

    def __init__(self, netloc: str, timeout: float) -> None:
        host, _, port = netloc.rpartition(":") if ":" in netloc else (netloc, "", "80")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def exchange(self, request: bytes) -> tuple[Response, bool]:
        """Send one request, read its response; also whether the server keeps the connection open."""
        self.sock.sendall(request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._receive()
        head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
        status_line, *lines = head.split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        else:
            body = self._exactly(int(headers.get("content-length", "0")))
        keep = headers.get("connection", "").lower() != "close"
        return Response(int(status_line.split(" ", 2)[1]), body), keep

    def _receive(self) -> None:
        data = self.sock.recv(_RECEIVE)
        if not data:
            raise ConnectionClosedError("connection closed mid-response")
        self.buffer += data

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._receive()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            self._receive()
        line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
        return line

    def _chunked(self) -> bytes:
        chunks = []
        while size := int(self._line().split(b";", 1)[0], 16):
            chunks.append(self._exactly(size))
            self._line()  # the CRLF after the chunk
        while self._line():  # trailers, up to the empty line
            pass
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()


class KeepAliveSession:
    """One persistent connection per ``host:port``; reconnects once when the server closed it."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._connections: dict[str, _Connection] = {}

    def request(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = dict(headers or {})
        if json is not None:
            data = jsonlib.dumps(json).encode()
            headers["Content-Type"] = "application/json"
        body = data or b""
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"{method} {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body
        for attempt in (1, 2):
            connection = self._connection(parts.netloc)
            try:
                response, keep = connection.exchange(request)
            except (ConnectionClosedError, ConnectionResetError, BrokenPipeError):
                self._drop(parts.netloc)
                if attempt == 2:
                    raise
                continue
            if not keep:
                self._drop(parts.netloc)
            return response
        raise AssertionError("unreachable")

    def post(self, url: str, **kwargs: Any) -> Response:
        return self.request("POST", url, **kwargs)

    def _connection(self, netloc: str) -> _Connection:
        if netloc not in self._connections:
            self._connections[netloc] = _Connection(netloc, self.timeout)
        return self._connections[netloc]

    def _drop(self, netloc: str) -> None:
        self._connections.pop(netloc).close()

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
