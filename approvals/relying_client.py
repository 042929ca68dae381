"""A minimal relying-service client for the native API: signs requests like a webmail or VPN would.

Library: ``RelyingClient(server, ikey, skey).auth("alice", context={...})``.
CLI (JSON on stdout; credentials from --ikey/--skey or MFA_IKEY/MFA_SKEY)::

    python -m approvals.relying_client --server URL preauth alice
    python -m approvals.relying_client --server URL auth alice [--sync] [--ip 203.0.113.7] [--display-text ...]
    python -m approvals.relying_client --server URL status TXID [--wait 30]
    python -m approvals.relying_client --server URL cancel TXID
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from approvals.signing import authorization_header, canonical_string, sign


class RelyingApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('code')}: {body.get('detail')}")
        self.status, self.body = status, body


class RelyingClient:
    def __init__(
        self, server: str, ikey: str, skey: str, *, timeout: float = 70.0, session: requests.Session | None = None
    ):
        self.server = server.rstrip("/")
        self.host = urlsplit(self.server).hostname or ""
        self.ikey, self.skey, self.timeout = ikey, skey, timeout
        self.session = session or requests.Session()

    def request(self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None) -> dict[str, Any]:
        """Send a signature-v5 request (HMAC-SHA512 over date, method, host, path, params, body hash)."""
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        date = formatdate()
        canonical = canonical_string(
            version=5,
            date=date,
            method=method,
            host=self.host,
            path=path,
            params=sorted((params or {}).items()),
            body=raw,
        )
        headers = {"Date": date, "Authorization": authorization_header(self.ikey, sign(self.skey, canonical))}
        if body is not None:
            headers["Content-Type"] = "application/json"
        url = self.server + path + (f"?{urlencode(params)}" if params else "")
        response = self.session.request(method, url, data=raw or None, headers=headers, timeout=self.timeout)
        payload = response.json()
        if response.status_code >= 400:
            raise RelyingApiError(response.status_code, payload)
        return payload

    def check(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/check")

    def preauth(self, username: str) -> dict[str, Any]:
        return self.request("POST", "/api/v1/preauth", body={"username": username})

    def auth(self, username: str, *, context: dict[str, Any] | None = None, is_async: bool = True) -> dict[str, Any]:
        body = {"username": username, "factor": "push", "async": is_async, "context": context or {}}
        return self.request("POST", "/api/v1/auth", body=body)

    def status(self, txid: str, *, wait: int = 0) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/auth/{txid}", params={"wait": str(wait)} if wait else None)

    def cancel(self, txid: str) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/auth/{txid}/cancel")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m approvals.relying_client", description=__doc__.split("\n")[0])
    parser.add_argument("--server", default=os.environ.get("MFA_SERVER", "http://localhost:8000"))
    parser.add_argument("--ikey", default=os.environ.get("MFA_IKEY"))
    parser.add_argument("--skey", default=os.environ.get("MFA_SKEY"))
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check")
    commands.add_parser("preauth").add_argument("username")
    auth = commands.add_parser("auth")
    auth.add_argument("username")
    auth.add_argument("--sync", action="store_true", help="wait for the decision")
    for field in ("ip", "hostname", "user-agent", "display-text", "type"):
        auth.add_argument(f"--{field}", default=None)
    status = commands.add_parser("status")
    status.add_argument("txid")
    status.add_argument("--wait", type=int, default=0)
    commands.add_parser("cancel").add_argument("txid")
    args = parser.parse_args(argv)
    if not args.ikey or not args.skey:
        parser.error("--ikey and --skey (or MFA_IKEY / MFA_SKEY) are required")
    client = RelyingClient(args.server, args.ikey, args.skey)
    try:
        if args.command == "check":
            result = client.check()
        elif args.command == "preauth":
            result = client.preauth(args.username)
        elif args.command == "auth":
            fields = {
                "ip": args.ip,
                "hostname": args.hostname,
                "user_agent": args.user_agent,
                "display_text": args.display_text,
                "type": args.type,
            }
            context = {k: v for k, v in fields.items() if v is not None}
            result = client.auth(args.username, context=context, is_async=not args.sync)
        elif args.command == "status":
            result = client.status(args.txid, wait=args.wait)
        else:
            result = client.cancel(args.txid)
    except RelyingApiError as exc:
        print(json.dumps(exc.body))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
