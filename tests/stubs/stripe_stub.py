"""A local stand-in for the Stripe API that the real `stripe` library talks to.

It speaks Stripe's wire format: form-encoded requests (`metadata[k]=v`), JSON objects
with `id`/`object`, error objects (`{"error": {"type", "code", "message", "param"}}`
with 400/401/402/404), and idempotency keys (the same key with the same request
replays the first answer with `Idempotent-Replayed: true`; with a different request it
is an `idempotency_error`; concurrent requests with one key are served one at a time).
`sign_webhook`/`send_webhook` sign an event exactly as Stripe does:
`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`.

Reusable by every capability that takes payments:

    async with StripeStub() as stub:
        provider = stub.provider()          # a StripeProvider aimed at the stub
        ...
        await stub.send_webhook(http, url, stub.event("payment_intent.succeeded", pi_id))
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY = "sk_test_linli_stub"
WEBHOOK_SECRET = "whsec_linli_stub_secret"


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding: `a[b][c]=v` nests, `a[0]=v` / `a[]=v` are lists."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = parts[i + 1] if not last else None
            container: Any = [] if nxt is not None and (nxt == "" or nxt.isdigit()) else {}
            if isinstance(node, list):
                if last:
                    node.append(value)
                    break
                if part == "" or int(part) >= len(node):
                    node.append(container)
                node = node[-1] if part == "" else node[int(part)]
                continue
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, container)
    return out


def sign_webhook(payload: bytes, secret: str = WEBHOOK_SECRET, t: int | None = None) -> str:
    """The Stripe-Signature header for `payload`, as Stripe computes it."""
    ts = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


class StripeAPIError(Exception):
    def __init__(self, status: int, type_: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, **extra}}


@dataclass
class StripeStub:
    api_key: str = API_KEY
    webhook_secret: str = WEBHOOK_SECRET
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Objects created (not replays): created["payment_intent"] counts PaymentIntents.
    created: Counter[str] = field(default_factory=Counter)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    # Make the next N requests fail with a 500 (the library retries them).
    fail_next: int = 0
    # Refuse the next request with this error (e.g. a 400 invalid_request_error).
    refuse_next: StripeAPIError | None = None
    _idem: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None
    port: int = 0
    # Answer this much later (what was asked is done already; replays are not held);
    # `held` counts the answers being held back.
    hold_seconds: float = 0.0
    hold_reads_seconds: float = 0.0  # the same for GETs (e.g. retrieving an intent)
    held: int = 0
    held_reads: int = 0

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> StripeStub:
        app = Starlette(
            routes=[
                Route("/v1/payment_intents", self._dispatch, methods=["POST"]),
                Route("/v1/payment_intents/{id}", self._dispatch, methods=["GET", "POST"]),
                Route("/v1/payment_intents/{id}/{action}", self._dispatch, methods=["POST"]),
                Route("/v1/refunds", self._dispatch, methods=["POST"]),
                Route("/v1/refunds/{id}", self._dispatch, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                break
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def __aenter__(self) -> StripeStub:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def provider(self, max_network_retries: int = 2) -> Any:
        """A StripeProvider aimed at the stub (0 retries: failures surface at once)."""
        from payments.stripe_provider import StripeProvider

        return StripeProvider(
            api_key=self.api_key,
            webhook_secret=self.webhook_secret,
            api_base=self.base_url,
            max_network_retries=max_network_retries,
        )

    def reset(self) -> None:
        self.intents.clear()
        self.refunds.clear()
        self.created.clear()
        self.requests.clear()
        self._idem.clear()
        self.fail_next = 0
        self.refuse_next = None

    # ------------------------------------------------------------ test controls
    def set_intent(self, pi_id: str, status: str, *, error_code: str | None = None) -> None:
        """Move an intent as the payer's app and the card network would."""
        pi = self.intents[pi_id]
        pi["status"] = status
        if status == "succeeded":
            pi["amount_received"] = pi["amount"]
            pi["latest_charge"] = pi.get("latest_charge") or self._id("ch")
            pi["last_payment_error"] = None
        if error_code is not None:
            pi["last_payment_error"] = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": error_code,
                "message": "Your card was declined.",
            }

    def event(self, type_: str, pi_id: str, *, event_id: str | None = None) -> bytes:
        """A webhook body for `type_`, carrying the intent's current state (a snapshot,
        as Stripe sends: it may be stale by the time it arrives)."""
        obj = json.loads(json.dumps(self.intents[pi_id]))
        body = {
            "id": event_id or self._id("evt"),
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }
        return json.dumps(body).encode()

    def snapshot_event(
        self, type_: str, obj: dict[str, Any], *, event_id: str | None = None
    ) -> bytes:
        body = {
            "id": event_id or self._id("evt"),
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }
        return json.dumps(body).encode()

    async def send_webhook(
        self,
        http: httpx.AsyncClient,
        url: str,
        payload: bytes,
        *,
        secret: str | None = None,
        t: int | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        header = signature or sign_webhook(payload, secret or self.webhook_secret, t)
        return await http.post(
            url,
            content=payload,
            headers={"content-type": "application/json", "stripe-signature": header},
        )

    # ------------------------------------------------------------ HTTP
    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._seq):06d}{secrets.token_hex(6)}"

    async def _dispatch(self, request: Request) -> Response:
        body = (await request.body()).decode()
        params = decode_form(body) if request.method == "POST" else dict(request.query_params)
        key = request.headers.get("idempotency-key")
        self.requests.append((request.method, request.url.path, key))
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            return self._error(
                StripeAPIError(401, "invalid_request_error", "Invalid API Key provided.")
            )
        if self.fail_next > 0:
            self.fail_next -= 1
            return self._error(StripeAPIError(500, "api_error", "Something went wrong."))
        if self.refuse_next is not None:
            err, self.refuse_next = self.refuse_next, None
            return self._error(err)
        if request.method != "POST" or key is None:
            answer = self._answer(*self._route(request, params))
            await self._hold(read=request.method == "GET")
            return answer
        scoped = f"{self.api_key}:{key}"
        lock = self._locks.setdefault(scoped, asyncio.Lock())
        async with lock:
            fingerprint = json.dumps([request.url.path, params], sort_keys=True)
            seen = self._idem.get(scoped)
            if seen is not None:
                if seen[0] != fingerprint:
                    return self._error(
                        StripeAPIError(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with.",
                        )
                    )
                resp = self._answer(seen[1], seen[2])
                resp.headers["idempotent-replayed"] = "true"
                return resp
            status, obj = self._route(request, params)
            # Stripe stores the first answer, errors included (except 5xx).
            if status < 500:
                self._idem[scoped] = (fingerprint, status, obj)
            # Done at "Stripe" but not answered yet: a caller killed meanwhile never
            # learns the result (a retry with the key waits, then gets it replayed).
            await self._hold()
            return self._answer(status, obj)

    async def _hold(self, read: bool = False) -> None:
        seconds = self.hold_reads_seconds if read else self.hold_seconds
        if seconds:
            self.held += 1
            self.held_reads += read
            try:
                await asyncio.sleep(seconds)
            finally:
                self.held -= 1
                self.held_reads -= read

    def _answer(self, status: int, obj: dict[str, Any]) -> Response:
        resp = JSONResponse(obj, status_code=status)
        resp.headers["request-id"] = self._id("req")
        return resp

    def _error(self, err: StripeAPIError) -> Response:
        return self._answer(err.status, err.body)

    def _route(self, request: Request, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        path = request.url.path
        try:
            if path == "/v1/payment_intents":
                return 200, self._create_intent(params)
            if path == "/v1/refunds":
                return 200, self._create_refund(params)
            if path.startswith("/v1/refunds/"):
                return 200, self._get(self.refunds, request.path_params["id"], "refund")
            pi = self._get(self.intents, request.path_params["id"], "payment_intent")
            action = request.path_params.get("action")
            if action is None:
                if request.method == "POST":
                    if "metadata" in params:
                        pi["metadata"].update(params["metadata"])
                return 200, pi
            if action == "confirm":
                return self._confirm(pi, params)
            if action == "cancel":
                return 200, self._cancel(pi)
            raise StripeAPIError(404, "invalid_request_error", f"Unrecognized request URL {path}")
        except StripeAPIError as err:
            return err.status, err.body

    def _get(self, table: dict[str, dict[str, Any]], oid: str, kind: str) -> dict[str, Any]:
        obj = table.get(oid)
        if obj is None:
            raise StripeAPIError(
                404,
                "invalid_request_error",
                f"No such {kind}: '{oid}'",
                code="resource_missing",
                param="id",
            )
        return obj

    def _create_intent(self, p: dict[str, Any]) -> dict[str, Any]:
        try:
            amount = int(p.get("amount", ""))
        except ValueError:
            raise StripeAPIError(
                400,
                "invalid_request_error",
                "Missing required param: amount.",
                code="parameter_missing",
                param="amount",
            ) from None
        currency = str(p.get("currency", "")).lower()
        if len(currency) != 3:
            raise StripeAPIError(
                400,
                "invalid_request_error",
                "Invalid currency.",
                code="parameter_invalid_empty",
                param="currency",
            )
        if amount < 1:
            raise StripeAPIError(
                400,
                "invalid_request_error",
                "Amount must be at least 1.",
                code="amount_too_small",
                param="amount",
            )
        pi_id = self._id("pi")
        pi = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "status": "requires_payment_method",
            "client_secret": f"{pi_id}_secret_{secrets.token_hex(8)}",
            "metadata": dict(p.get("metadata") or {}),
            "description": p.get("description"),
            "created": int(time.time()),
            "livemode": False,
            "latest_charge": None,
            "last_payment_error": None,
            "automatic_payment_methods": {"enabled": True},
        }
        self.intents[pi_id] = pi
        self.created["payment_intent"] += 1
        return pi

    def _confirm(self, pi: dict[str, Any], p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise StripeAPIError(
                400,
                "invalid_request_error",
                f"This PaymentIntent's status is {pi['status']}.",
                code="payment_intent_unexpected_state",
            )
        if p.get("payment_method") == "pm_card_chargeDeclined":
            self.set_intent(pi["id"], "requires_payment_method", error_code="generic_decline")
            err = StripeAPIError(
                402,
                "card_error",
                "Your card was declined.",
                code="card_declined",
                decline_code="generic_decline",
                payment_intent=pi,
            )
            return err.status, err.body
        self.set_intent(pi["id"], "succeeded")
        return 200, pi

    def _cancel(self, pi: dict[str, Any]) -> dict[str, Any]:
        if pi["status"] in ("succeeded", "processing", "canceled"):
            raise StripeAPIError(
                400,
                "invalid_request_error",
                f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}.",
                code="payment_intent_unexpected_state",
            )
        pi["status"] = "canceled"
        return pi

    def _create_refund(self, p: dict[str, Any]) -> dict[str, Any]:
        pi = self._get(self.intents, str(p.get("payment_intent")), "payment_intent")
        if pi["status"] != "succeeded":
            raise StripeAPIError(
                400,
                "invalid_request_error",
                "This PaymentIntent has no successful charge.",
                code="charge_not_refundable",
            )
        already = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == pi["id"])
        amount = int(p.get("amount") or pi["amount"] - already)
        if amount < 1 or already + amount > pi["amount"]:
            raise StripeAPIError(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge.",
                code="amount_too_large",
                param="amount",
            )
        rid = self._id("re")
        refund = {
            "id": rid,
            "object": "refund",
            "amount": amount,
            "currency": pi["currency"],
            "payment_intent": pi["id"],
            "charge": pi["latest_charge"],
            "status": "succeeded",
            "metadata": dict(p.get("metadata") or {}),
            "created": int(time.time()),
        }
        self.refunds[rid] = refund
        self.created["refund"] += 1
        return refund
