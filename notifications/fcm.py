"""Firebase Cloud Messaging through firebase-admin: the only module importing it.

`messaging.send_each` takes at most 500 messages and sends each as one FCM v1 HTTP
request (the library runs them on a thread pool); we call it off the event loop.

Retries belong to the outbox (durable, with backoff, visible in the database), so the
HTTP adapter for the FCM endpoint retries only failed connects, never a 5xx: the
library's default would sleep up to seven seconds per batch inside a worker thread.

`LINLI_FCM_ENDPOINT` points the library at another base URL (a stub of the FCM v1 API
in tests, a staging relay). firebase-admin has no emulator setting for messaging, so
the adapter sets the URL its messaging service was built with; the credentials stay a
real service-account file whose `token_uri` the library calls for OAuth tokens.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import firebase_admin
import google.auth.exceptions
import google.auth.transport.requests
import requests.adapters
from firebase_admin import credentials, exceptions, messaging
from urllib3.util.retry import Retry

from domain.notifications.push import Outcome, PushMessage, SendResult, too_large

log = logging.getLogger("linli.push.fcm")

FCM_BASE = "https://fcm.googleapis.com"
MAX_PER_CALL = 500
_app_ids = count(1)

TRANSIENT = (
    exceptions.UnavailableError,
    exceptions.InternalError,
    exceptions.ResourceExhaustedError,  # includes QuotaExceededError
    exceptions.DeadlineExceededError,
    exceptions.UnknownError,  # connection failures
    exceptions.AbortedError,
)


class FcmSender:
    name = "fcm"

    def __init__(
        self,
        *,
        credentials_path: Path,
        endpoint: str | None = None,
        batch_size: int = MAX_PER_CALL,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.credentials_path = credentials_path
        self.endpoint = (endpoint or FCM_BASE).rstrip("/")
        self.batch_size = max(1, min(batch_size, MAX_PER_CALL))
        self.timeout_seconds = timeout_seconds
        self._app: firebase_admin.App | None = None

    def _ensure_app(self) -> firebase_admin.App:
        if self._app is not None:
            return self._app
        cred = credentials.Certificate(str(self.credentials_path))
        app = firebase_admin.initialize_app(
            cred, {"httpTimeout": self.timeout_seconds}, name=f"linli-fcm-{next(_app_ids)}"
        )
        service = messaging._get_messaging_service(app)
        if self.endpoint != FCM_BASE:
            service._fcm_url = f"{self.endpoint}/v1/projects/{service._project_id}/messages:send"
            _skip_google_boundary_lookup(service._credential)
        parts = urlsplit(self.endpoint)
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4,
            pool_maxsize=self.batch_size,
            max_retries=Retry(
                total=None,
                connect=1,
                read=0,
                status=0,
                redirect=0,
                other=0,
                allowed_methods=None,
                raise_on_status=False,
            ),
        )
        service._client.session.mount(f"{parts.scheme}://{parts.netloc}", adapter)
        self._app = app
        return app

    async def send(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [too_large(m) for m in messages]
        pending = [i for i, r in enumerate(results) if r is None]
        for start in range(0, len(pending), self.batch_size):
            chunk = pending[start : start + self.batch_size]
            answers = await asyncio.to_thread(self._send_sync, [messages[i] for i in chunk])
            for i, answer in zip(chunk, answers, strict=True):
                results[i] = answer
        return [r for r in results if r is not None]

    def _send_sync(self, batch: list[PushMessage]) -> list[SendResult]:
        try:
            app = self._ensure_app()
            self._refresh_token(app)
            response = messaging.send_each([to_fcm(m) for m in batch], app=app)
        except (
            exceptions.FirebaseError,
            google.auth.exceptions.GoogleAuthError,
            ValueError,
            OSError,
        ) as exc:
            # The whole call failed (credentials unreadable, library refused the batch):
            # every message is retried later with backoff.
            log.warning("FCM send_each failed: %s", exc)
            return [SendResult(Outcome.RETRY, error=f"{type(exc).__name__}: {exc}"[:300])] * len(
                batch
            )
        return [classify(r) for r in response.responses]

    def _refresh_token(self, app: firebase_admin.App) -> None:
        """Fetch the OAuth token once, here, when it is missing or about to expire:
        otherwise each of send_each's (up to 500) threads finds it invalid and asks
        the token endpoint itself."""
        credential = app.credential.get_credential()
        if not credential.valid:
            credential.refresh(google.auth.transport.requests.Request())

    async def close(self) -> None:
        if self._app is not None:
            app, self._app = self._app, None
            await asyncio.to_thread(firebase_admin.delete_app, app)


def _skip_google_boundary_lookup(credential: Any) -> None:
    """google-auth looks up the service account's regional access boundary at
    iamcredentials.googleapis.com after each token refresh. Against a stub or relay
    there is no Google to ask, so give the credential a long-lived no-op boundary."""
    setter = getattr(credential, "_set_regional_access_boundary", None)
    if setter is not None:
        expiry = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=3650)
        setter({"encodedLocations": "0x0", "expiry": expiry})


def to_fcm(m: PushMessage) -> messaging.Message:
    critical = m.severity == "CRITICAL"
    urgent = m.severity in ("CRITICAL", "HIGH")
    android = apns = webpush = None
    if m.platform == "ANDROID":
        android = messaging.AndroidConfig(
            priority="high" if urgent else "normal",
            collapse_key=m.collapse_id or None,
            notification=messaging.AndroidNotification(
                channel_id="linli_critical" if critical else "linli_default",
                tag=m.collapse_id or None,
                sound="default",
            ),
        )
    elif m.platform == "IOS":
        sound: Any = (
            messaging.CriticalSound("default", critical=True, volume=1.0) if critical else "default"
        )
        headers = {"apns-priority": "10" if urgent else "5"}
        if m.collapse_id:
            headers["apns-collapse-id"] = m.collapse_id[:64]
        apns = messaging.APNSConfig(
            headers=headers,
            payload=messaging.APNSPayload(aps=messaging.Aps(sound=sound, badge=m.badge)),
        )
    else:
        webpush = messaging.WebpushConfig(headers={"Urgency": "high" if urgent else "normal"})
    return messaging.Message(
        token=m.token,
        notification=messaging.Notification(title=m.title, body=m.body),
        data=dict(m.data),
        android=android,
        apns=apns,
        webpush=webpush,
    )


def classify(response: messaging.SendResponse) -> SendResult:
    if response.success:
        return SendResult(Outcome.DELIVERED, message_id=response.message_id)
    exc = response.exception
    text = f"{getattr(exc, 'code', type(exc).__name__)}: {exc}"[:300]
    if isinstance(exc, messaging.UnregisteredError):
        return SendResult(Outcome.TOKEN_GONE, error=text)
    if isinstance(exc, messaging.SenderIdMismatchError):
        return SendResult(Outcome.TOKEN_INVALID, error=text)
    if isinstance(exc, exceptions.InvalidArgumentError):
        about_token = _about_token(exc)
        return SendResult(Outcome.TOKEN_INVALID if about_token else Outcome.FAILED, error=text)
    if isinstance(exc, messaging.ThirdPartyAuthError):
        return SendResult(Outcome.FAILED, error=text)  # APNs/web push credentials: ops
    if isinstance(exc, TRANSIENT) or isinstance(
        exc, exceptions.UnauthenticatedError | exceptions.PermissionDeniedError
    ):
        # Our own credentials failing is fixable by operators; keep retrying until
        # the attempt limit rather than dropping everyone's pushes at once.
        return SendResult(Outcome.RETRY, error=text, retry_after=_retry_after(exc))
    return SendResult(Outcome.FAILED, error=text)


def _about_token(exc: exceptions.FirebaseError) -> bool:
    """INVALID_ARGUMENT is about the token only when FCM says so: a field violation on
    `message.token`, or its message naming the registration token. Anything else is
    our payload's fault and the token must stay."""
    body: dict[str, Any] = {}
    response = exc.http_response
    if response is not None:
        try:
            body = json.loads(response.content or b"{}").get("error") or {}
        except (ValueError, AttributeError):
            body = {}
    for detail in body.get("details") or []:
        for violation in (detail or {}).get("fieldViolations") or []:
            if str(violation.get("field", "")).endswith("token"):
                return True
    message = str(body.get("message") or exc).lower()
    return "registration token" in message


def _retry_after(exc: exceptions.FirebaseError) -> float | None:
    response = exc.http_response
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
