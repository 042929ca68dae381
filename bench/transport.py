"""A lean keep-alive HTTP session: just enough of ``requests.Session`` for the project's own clients.

``RelyingClient`` and ``DeviceClient`` take a ``session``; this one keeps one ``http.client`` connection
per host, which costs the load generator a fraction of what ``requests`` costs on the same 2 cores.
"""

from __future__ import annotations

import http.client
import json as jsonlib
from typing import Any
from urllib.parse import urlsplit


class Response:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class KeepAliveSession:
    """One persistent connection per ``host:port``; reconnects once when the server closed it."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._connections: dict[str, http.client.HTTPConnection] = {}

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
        for attempt in (1, 2):
            connection = self._connection(parts.netloc)
            try:
                connection.request(method, target, body=data, headers=headers)
                response = connection.getresponse()
                return Response(response.status, response.read())
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                del self._connections[parts.netloc]
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def post(self, url: str, **kwargs: Any) -> Response:
        return self.request("POST", url, **kwargs)

    def _connection(self, netloc: str) -> http.client.HTTPConnection:
        if netloc not in self._connections:
            self._connections[netloc] = http.client.HTTPConnection(netloc, timeout=self.timeout)
        return self._connections[netloc]

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
