"""Local HTTP servers that speak SMS providers' wire formats, for the real clients to talk to."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user, password


Responder = Callable[[Recorded], tuple[int, Any]]


@dataclass
class FakeHttpServer:
    """Records every request and answers with ``responder(request) -> (status, json body)``."""

    responder: Responder
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                fake.requests.append(recorded)
                status, payload = fake.responder(recorded)
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_POST = do_PUT = do_GET = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


TWILIO_SID = "AC" + "0" * 31 + "1"
TWILIO_TOKEN = "test-auth-token"  # noqa: S105


def twilio_messages_responder(request: Recorded) -> tuple[int, Any]:
    """``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` as Twilio answers it (201 + the message)."""
    expected_path = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    if request.basic_auth != (TWILIO_SID, TWILIO_TOKEN):
        return 401, {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }
    if request.method != "POST" or request.path != expected_path:
        return 404, {"code": 20404, "message": "The requested resource was not found", "more_info": "", "status": 404}
    form = request.form
    if not form.get("To", "").startswith("+"):
        return 400, {
            "code": 21211,
            "message": f"The 'To' number {form.get('To')} is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        }
    sid = "SM" + "a" * 32
    return 201, {
        "account_sid": TWILIO_SID,
        "api_version": "2010-04-01",
        "body": form.get("Body"),
        "date_created": "Mon, 30 Nov 2026 12:00:00 +0000",
        "date_sent": None,
        "date_updated": "Mon, 30 Nov 2026 12:00:00 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{sid}/Media.json"},
        "to": form.get("To"),
        "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{sid}.json",
    }
