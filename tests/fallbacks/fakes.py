"""Local HTTP servers that speak SMS providers' wire formats, for the real clients to talk to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.helpers import RecordedRequest, RecordingServer, json_reply

Responder = Callable[[RecordedRequest], tuple[int, Any]]


class FakeHttpServer(RecordingServer):
    """Records every request and answers with ``responder(request) -> (status, json body)``."""

    def __init__(self, responder: Responder) -> None:
        super().__init__(lambda request: json_reply(*responder(request)))


TWILIO_SID = "AC" + "0" * 31 + "1"
TWILIO_TOKEN = "test-auth-token"  # noqa: S105


def twilio_messages_responder(request: RecordedRequest) -> tuple[int, Any]:
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
