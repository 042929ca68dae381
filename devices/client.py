"""The reference device client: everything a phone app does, as a library and a CLI.

It keeps a P-256 key (a phone keeps it in the Secure Enclave / Android Keystore behind biometrics)
and its device token in a state file readable only by its owner. CLI, JSON on stdout::

    python -m devices.client activate CODE_OR_URL [--server URL] --state FILE [--name N] [--fcm-token T]
    python -m devices.client pending --state FILE
    python -m devices.client show TXID --state FILE
    python -m devices.client approve TXID --number DIGITS --state FILE
    python -m devices.client deny TXID [--fraud] --state FILE
    python -m devices.client listen --state FILE [--count N] [--timeout S]
    python -m devices.client passcode --state FILE      (the current 6-digit passcode, RFC 6238)
    python -m devices.client codes --state FILE         (session codes for pending logins)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devices.proofs import canonical_payload, sign_payload


class DeviceApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('code')}: {body.get('detail')}")
        self.status, self.body = status, body


def parse_activation(code_or_url: str) -> tuple[str | None, str]:
    """``(server, code)`` from an activation link (code in the fragment) or a bare code."""
    parts = urlsplit(code_or_url)
    if parts.scheme in ("http", "https"):
        code = parse_qs(parts.fragment).get("activate", [""])[0] or parse_qs(parts.query).get("code", [""])[0]
        return f"{parts.scheme}://{parts.netloc}", code
    return None, code_or_url


class DeviceClient:
    def __init__(
        self, state: dict[str, Any], state_path: Path | None = None, *, session: requests.Session | None = None
    ):
        self.state, self.state_path = state, state_path
        self.session = session or requests.Session()
        self._key = serialization.load_pem_private_key(state["private_key_pem"].encode(), password=None)

    # --- persistence --------------------------------------------------------------------------

    @classmethod
    def load(cls, state_path: str | Path) -> DeviceClient:
        path = Path(state_path)
        return cls(json.loads(path.read_text()), path)

    def save(self) -> None:
        if self.state_path is None:
            return
        fd = os.open(self.state_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.state, handle)
        os.chmod(self.state_path, 0o600)

    # --- API ------------------------------------------------------------------------------------

    @classmethod
    def activate(
        cls,
        code_or_url: str,
        *,
        server: str | None = None,
        state_path: str | Path | None = None,
        name: str = "reference client",
        platform: str = "python",
        fcm_token: str = "",
        session: requests.Session | None = None,
    ) -> DeviceClient:
        """Generate a key, activate with the code, and keep the credentials (in ``state_path`` when given)."""
        link_server, code = parse_activation(code_or_url)
        server = (server or link_server or "").rstrip("/")
        if not server:
            raise ValueError("a --server URL is needed when activating with a bare code")
        key = ec.generate_private_key(ec.SECP256R1())
        public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        http = session or requests.Session()
        body = {"code": code, "public_key": public_pem, "name": name, "platform": platform, "fcm_token": fcm_token}
        response = http.post(f"{server}/api/v1/device/activate", json=body, timeout=30)
        if response.status_code != 201:
            raise DeviceApiError(response.status_code, response.json())
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        state = {"server": server, **response.json(), "private_key_pem": private_pem}
        client = cls(state, Path(state_path) if state_path else None, session=http)
        client.save()
        try:  # the passcode secret comes over the fresh authenticated channel, right after activation
            client.provision_passcode()
        except DeviceApiError:
            pass  # a server without passcodes, or already provisioned: `passcode` retries later
        return client

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.session.request(
            method,
            f"{self.state['server']}/api/v1/device/{path}",
            json=body,
            headers={"Authorization": f"Device {self.state['device_token']}"},
            timeout=30,
        )
        payload = response.json()
        if response.status_code >= 400:
            raise DeviceApiError(response.status_code, payload)
        return payload

    def me(self) -> dict[str, Any]:
        return self._call("GET", "me")

    def pending(self) -> list[dict[str, Any]]:
        return self._call("GET", "approvals")

    def show(self, approval_id: str) -> dict[str, Any]:
        return self._call("GET", f"approvals/{approval_id}")

    def proof(self, approval_id: str, decision: str, number: str = "", timestamp: int | None = None) -> dict[str, Any]:
        """The signed decision body; a phone makes this only after a successful biometric check."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        payload = canonical_payload(approval_id=approval_id, decision=decision, number=number, timestamp=timestamp)
        signature = sign_payload(self._key, payload)  # type: ignore[arg-type]  # always an EC key here
        return {"decision": decision, "number": number, "timestamp": timestamp, "signature": signature}

    def decide(self, approval_id: str, decision: str, number: str = "") -> dict[str, Any]:
        return self.submit(approval_id, self.proof(approval_id, decision, number))

    def submit(self, approval_id: str, proof: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"approvals/{approval_id}/decision", proof)

    def provision_passcode(self) -> None:
        """Fetch this device's TOTP secret (served once) and keep it in the state file."""
        if not self.state.get("passcode_secret"):
            self.state["passcode_secret"] = self._call("POST", "passcode-secret")["secret"]
            self.save()

    def passcode(self, at: float | None = None) -> dict[str, Any]:
        """The current passcode (what a phone shows offline) and how long it stays current."""
        import pyotp

        self.provision_passcode()
        now = time.time() if at is None else at
        return {"passcode": pyotp.TOTP(self.state["passcode_secret"]).at(now), "valid_for": 30 - int(now) % 30}

    def codes(self) -> list[dict[str, Any]]:
        """Session codes the server sent for this user's pending logins."""
        return self._call("GET", "codes")

    def update_push_token(self, fcm_token: str) -> dict[str, Any]:
        return self._call("PUT", "push-token", {"fcm_token": fcm_token})

    def listen(self, *, timeout: float = 60.0) -> Iterator[dict[str, Any]]:
        """Yield messages from the live WebSocket until ``timeout`` seconds pass without one."""
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        url = self.state["server"].replace("http", "ws", 1) + "/ws/device"
        headers = {"Authorization": f"Device {self.state['device_token']}"}
        with connect(url, additional_headers=headers, open_timeout=10) as socket:
            while True:
                try:
                    yield json.loads(socket.recv(timeout=timeout))
                except (TimeoutError, ConnectionClosed):
                    return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devices.client", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    activate = commands.add_parser("activate")
    activate.add_argument("code_or_url")
    activate.add_argument("--server")
    activate.add_argument("--name", default="reference client")
    activate.add_argument("--platform", default="python")
    activate.add_argument("--fcm-token", default="")
    commands.add_parser("pending")
    commands.add_parser("me")
    commands.add_parser("show").add_argument("txid")
    approve = commands.add_parser("approve")
    approve.add_argument("txid")
    approve.add_argument("--number", required=True, help="the digits shown on the login page")
    deny = commands.add_parser("deny")
    deny.add_argument("txid")
    deny.add_argument("--fraud", action="store_true", help="report the request as fraudulent")
    commands.add_parser("passcode")
    commands.add_parser("codes")
    listen = commands.add_parser("listen")
    listen.add_argument("--count", type=int, default=1, help="stop after this many messages")
    listen.add_argument("--timeout", type=float, default=60.0)
    for sub in commands.choices.values():
        sub.add_argument("--state", required=True, help="credentials file (created with mode 0600)")
    args = parser.parse_args(argv)
    try:
        if args.command == "activate":
            client = DeviceClient.activate(
                args.code_or_url,
                server=args.server,
                state_path=args.state,
                name=args.name,
                platform=args.platform,
                fcm_token=args.fcm_token,
            )
            secret_keys = ("private_key_pem", "device_token", "passcode_secret")
            result: Any = {k: v for k, v in client.state.items() if k not in secret_keys}
        else:
            client = DeviceClient.load(args.state)
            if args.command == "pending":
                result = client.pending()
            elif args.command == "me":
                result = client.me()
            elif args.command == "show":
                result = client.show(args.txid)
            elif args.command == "approve":
                result = client.decide(args.txid, "approve", args.number)
            elif args.command == "deny":
                result = client.decide(args.txid, "fraud" if args.fraud else "deny")
            elif args.command == "passcode":
                result = client.passcode()
            elif args.command == "codes":
                result = client.codes()
            else:
                result = []
                for message in client.listen(timeout=args.timeout):
                    result.append(message)
                    if len(result) >= args.count:
                        break
    except (DeviceApiError, ValueError) as exc:
        print(json.dumps(getattr(exc, "body", None) or {"code": "client_error", "detail": str(exc)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
