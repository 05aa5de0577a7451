"""A local stand-in for Google's OAuth token endpoint and the FCM v1 send endpoint,
speaking their wire formats, so the real firebase-admin library runs against it.

    stub = FcmStub(); stub.start()
    creds = stub.service_account(tmp_path)      # a service-account file, fresh RSA key
    settings: fcm_credentials=creds, fcm_endpoint=stub.url

The service account's `token_uri` is the stub's; the stub checks the JWT assertion's
signature (RS256, the account's public key) and audience before issuing a bearer
token, and the send endpoint refuses requests without that token (401), as FCM does.

Scripting: `stub.unregistered` / `stub.invalid` (sets of tokens FCM no longer knows /
rejects as malformed), `stub.bad_payload` (tokens whose messages FCM refuses with an
INVALID_ARGUMENT about another field), `stub.fail_next(n, status=503)` (the next n
sends fail), `stub.hold_seconds` (answer accepted messages that much later: a
process killed meanwhile has pushed without being able to record it; `stub.held` counts
the answers being held back).
Received messages are in `stub.messages` (the JSON `message` objects, in order).
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class FcmStub:
    def __init__(self, project_id: str = "linli-test") -> None:
        self.project_id = project_id
        self.messages: list[dict[str, Any]] = []
        self.token_requests = 0
        self.unregistered: set[str] = set()
        self.invalid: set[str] = set()
        self.bad_payload: set[str] = set()  # tokens whose messages fail on another field
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._access_tokens: set[str] = set()
        self._public_key: Any = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0
        self.hold_seconds = 0.0
        self.held = 0

    # ------------------------------------------------------------ control
    def start(self) -> FcmStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                status, body, headers = stub._handle(self.path, dict(self.headers), raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=UTF-8")
                self.send_header("content-length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that went away (a killed server process) is not the stub's
                # error; anything else is reported as usual.
                if isinstance(sys.exc_info()[1], ConnectionError):
                    return
                super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def service_account(self, directory: Path) -> Path:
        """Write a service-account JSON with a new RSA key; the stub trusts that key."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public_key = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        info = {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": f"linli@{self.project_id}.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": f"{self.url}/token",
        }
        path = directory / f"fcm-{secrets.token_hex(4)}.json"
        path.write_text(json.dumps(info))
        return path

    def fail_next(self, n: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * n)

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.unregistered.clear()
            self.invalid.clear()
            self.bad_payload.clear()
            self._failures.clear()

    def tokens_sent(self) -> list[str]:
        with self._lock:
            return [m["token"] for m in self.messages]

    # ------------------------------------------------------------ wire
    def _handle(
        self, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if path == "/token":
            return self._token(raw)
        if path == f"/v1/projects/{self.project_id}/messages:send":
            return self._send(headers, raw)
        return _error(404, "Not found")

    def _token(self, raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        form = parse_qs(raw.decode())
        assertion = (form.get("assertion") or [""])[0]
        try:
            claims = jwt.decode(
                assertion,
                self._public_key,
                algorithms=["RS256"],
                # google-auth always addresses the assertion to Google's endpoint.
                audience="https://oauth2.googleapis.com/token",
            )
        except jwt.PyJWTError as exc:
            return 400, {"error": "invalid_grant", "error_description": str(exc)}, {}
        # FCM accepts either scope (firebase-admin asks for cloud-platform among others).
        scopes = set(claims.get("scope", "").split())
        if not scopes & {
            "https://www.googleapis.com/auth/cloud-platform",
            "https://www.googleapis.com/auth/firebase.messaging",
        }:
            return 400, {"error": "invalid_scope"}, {}
        access = "ya29.stub-" + secrets.token_urlsafe(16)
        with self._lock:
            self._access_tokens.add(access)
            self.token_requests += 1
        return 200, {"access_token": access, "expires_in": 3599, "token_type": "Bearer"}, {}

    def _send(
        self, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        with self._lock:
            authorised = auth.startswith("Bearer ") and auth[7:] in self._access_tokens
        if not authorised:
            return _error(401, "Request had invalid authentication credentials.")
        try:
            message = json.loads(raw)["message"]
        except (ValueError, KeyError):
            return _error(400, "Invalid JSON payload received.")
        token = message.get("token")
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, body, _ = _error(failure, "The service is currently unavailable.")
            return status, body, ({"retry-after": "1"} if failure in (429, 503) else {})
        if token in self.unregistered:
            return _error(404, "Requested entity was not found.", fcm_code="UNREGISTERED")
        if not token or token in self.invalid:
            status, body, h = _error(
                400,
                "The registration token is not a valid FCM registration token",
                fcm_code="INVALID_ARGUMENT",
            )
            body["error"]["details"].append(
                {
                    "@type": BAD_REQUEST,
                    "fieldViolations": [
                        {"field": "message.token", "description": "Invalid registration token"}
                    ],
                }
            )
            return status, body, h
        if token in self.bad_payload:
            status, body, h = _error(400, "Invalid color value", fcm_code="INVALID_ARGUMENT")
            body["error"]["details"].append(
                {
                    "@type": BAD_REQUEST,
                    "fieldViolations": [
                        {"field": "message.android.notification.color", "description": "bad"}
                    ],
                }
            )
            return status, body, h
        data = message.get("data") or {}
        if any(not isinstance(v, str) for v in data.values()):
            return _error(400, "Invalid value at 'message.data'", fcm_code="INVALID_ARGUMENT")
        with self._lock:
            self._counter += 1
            self.messages.append(message)
            n = self._counter
        if self.hold_seconds:
            # Accepted (FCM will deliver it) but not yet answered.
            with self._lock:
                self.held += 1
            time.sleep(self.hold_seconds)
            with self._lock:
                self.held -= 1
        return 200, {"name": f"projects/{self.project_id}/messages/0:{n}"}, {}


def _error(
    status: int, message: str, *, fcm_code: str | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    details: list[dict[str, Any]] = []
    if fcm_code:
        details.append({"@type": FCM_ERROR, "errorCode": fcm_code})
    body = {
        "error": {
            "code": status,
            "message": message,
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
            "details": details,
        }
    }
    return status, body, {}
