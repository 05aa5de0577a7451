"""Recovery: a real `linli serve` process is killed (SIGKILL) in the middle of traffic
and a new process is started on the same database and port; nothing the apps were told
happened may be lost or happen twice.

The clients behave like the real apps: every logical operation has its own idempotency
key and is retried with the same key on connection errors and 5xx until it gets a
definitive answer. Traffic: ballots (several casts per unit, changing the choice),
common-income ledger postings, bill payments with the signed `payment_intent.succeeded`
webhook delivered as Stripe does (retried until 2xx), and pushes (an emergency
announcement and payment receipts) through the server's own outbox worker to the FCM
stub. The kill happens once a given number of operations have started, preferably
while the FCM stub holds back the answer to pushes it accepted (the at-least-once
window documented in docs/notifications.md), and without waiting for anything.

Verified afterwards from the database and the stubs: one cast per ballot key and the
current ballot per unit = the last acknowledged choice; one ledger entry per key, the
chain valid and the balance right; one payment and one PaymentIntent per payment key,
every bill PAID once, one receipt per payment; every outbox row settled, every pushed
notification at FCM, and any re-sent push carrying the same collapse id (counted).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core.db import Database
from core.ids import decode_gid, encode_gid
from domain.accounts.models import Ownership, Unit
from domain.bills.models import Bill, BillPayment
from domain.council.models import Ballot, BallotCast, Proposal
from domain.ledger.models import LedgerEntry
from domain.notifications.models import Notification, OutboxMessage, PushToken
from domain.payments.models import Payment, WebhookEvent
from tests.bench.harness import PASSWORD, BenchServer
from tests.stubs.fcm_stub import FcmStub
from tests.stubs.stripe_stub import StripeStub
from tests.support import pg_reachable, service_missing

DEADLINE_S = 150.0  # generous: the shared 2-core machine may be busy
VOTERS = ["resident1", "resident2", "coowner1"] + [f"owner{i:02d}" for i in range(1, 7)]
PAYERS = [f"owner{i:02d}" for i in range(1, 7)] + ["resident1"]
CHOICES = ["FOR", "AGAINST", "ABSTAIN", "FOR", "AGAINST", "FOR"]
LEDGER_POSTS = 48
LEDGER_WORKERS = 4

SIGN_IN = """mutation($l: String!, $p: String!) {
  signIn(input: {login: $l, password: $p}) { accessToken } }"""
ME = "query { me { user { id } } }"
PUSH = """mutation($t: String!) { registerPushToken(input: {token: $t, platform: ANDROID}) {
  ok userErrors { code } } }"""
ANNOUNCE = """mutation($c: ID!) { publishAnnouncement(input: {communityId: $c, kind: EMERGENCY,
  titleZh: "停水通知", titleEn: "Water off", bodyZh: "2号楼今天停水。",
  bodyEn: "No water in building 2 today."}) { announcement { id } userErrors { code } } }"""
ISSUE = """mutation($i: IssueBillsInput!) { issueBills(input: $i) { issued
  userErrors { code field message } } }"""
CAST = """mutation($p: ID!, $u: ID!, $c: BallotChoice!, $k: String!) {
  castBallot(input: {proposalId: $p, unitId: $u, choice: $c, idempotencyKey: $k}) {
    ballot { choice } userErrors { code message } } }"""
POST = """mutation($i: PostLedgerEntryInput!) { postLedgerEntry(input: $i) {
  entry { id amount { amountMinor } } userErrors { code message } } }"""
PAY = """mutation($ids: [ID!]!, $k: String!) {
  payBills(input: {billIds: $ids, idempotencyKey: $k}) {
    payment { id status clientSecret } userErrors { code message } } }"""
SUMMARY = """query($c: ID!) { ledgerSummary(communityId: $c, account: COMMON_INCOME) {
  balance { amountMinor } } }"""
VERIFY = """query($c: ID!) { verifyLedger(communityId: $c, account: COMMON_INCOME) {
  valid entries brokenAt reason } }"""


class Apps:
    """The clients: retry the same request until the server gives a definitive answer."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(timeout=60)
        self.started = 0  # logical operations begun
        self.retries = 0  # attempts that met a dead or restarting server
        self.retried_ops: set[str] = set()  # idempotency keys sent more than once
        # While set, answers are thrown away as if the server had died before sending
        # them (it committed, the app never heard): the app retries with the same key.
        self.dropping = False
        self.dropped = 0
        self.dropped_ops: set[str] = set()
        self.server_errors: list[str] = []  # 5xx answers: a bug, even if a retry works
        self.deadline = time.monotonic() + DEADLINE_S

    async def post(
        self, path: str, op: str | None = None, *, keep: bool = False, **kw: Any
    ) -> httpx.Response:
        while True:
            assert time.monotonic() < self.deadline, f"no definitive answer from {path}"
            try:
                r = await self.http.post(self.base_url + path, **kw)
            except httpx.TransportError:
                r = None
            if r is not None and r.status_code < 500:
                if not self.dropping or keep:
                    return r
                self.dropped += 1
                if op is not None:
                    self.dropped_ops.add(op)
            elif r is not None:
                self.server_errors.append(f"{r.status_code} {path}: {r.text[:300]}")
            # The server is gone or restarting: the same request again, shortly.
            self.retries += 1
            if op is not None:
                self.retried_ops.add(op)
            await asyncio.sleep(0.1)

    async def gql(
        self,
        query: str,
        variables: dict[str, Any],
        token: str | None,
        op: str | None = None,
        *,
        keep: bool = False,
    ) -> dict:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        r = await self.post(
            "/graphql",
            op,
            keep=keep,
            json={"query": query, "variables": variables},
            headers=headers,
        )
        body = r.json()
        assert r.status_code == 200 and "errors" not in body, r.text
        return body["data"]

    async def sign_in(self, login: str) -> str:
        data = await self.gql(SIGN_IN, {"l": f"{login}@demo.linli", "p": PASSWORD}, None)
        return data["signIn"]["accessToken"]


async def _rows(s: Any, stmt: Any) -> list[Any]:
    """Rows that stay readable after the read-only session ends (it rolls back)."""
    rows = list(await s.scalars(stmt))
    s.expunge_all()
    return rows


async def _wait_for(what: str, check: Any, timeout: float = DEADLINE_S) -> None:
    """Poll a condition (no fixed sleeps decide anything)."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_kill_mid_traffic_and_restart(kind):
    if kind == "postgres" and not await pg_reachable():
        service_missing("PostgreSQL", "start PostgreSQL on 127.0.0.1:5432")
    tmp = Path(tempfile.mkdtemp(prefix="linli-recovery-"))
    fcm = FcmStub().start()
    # FCM answers 0.3 s after accepting: a kill in that window loses the record of a
    # push that was made (the documented at-least-once case).
    fcm.hold_seconds = 0.3
    stripe = await StripeStub().start()
    # Stripe answers 0.5 s late: a kill in that window leaves an intent our database
    # does not know yet (the retry must get the same one back), or a webhook event
    # stored but not processed (the pending-events sweep of the new process takes it).
    stripe.hold_seconds = 0.5
    stripe.hold_reads_seconds = 1.5
    env = {
        "LINLI_STRIPE_API_KEY": stripe.api_key,
        "LINLI_STRIPE_WEBHOOK_SECRET": stripe.webhook_secret,
        "LINLI_STRIPE_API_BASE": stripe.base_url,
        "LINLI_FCM_CREDENTIALS": str(fcm.service_account(tmp)),
        "LINLI_FCM_ENDPOINT": fcm.url,
        "LINLI_OUTBOX_POLL_SECONDS": "0.2",
        # A dead process's claimed rows come due again after the lease.
        "LINLI_OUTBOX_LEASE_SECONDS": "4",
        # A webhook stored but not processed when the process died is taken over soon.
        "LINLI_STRIPE_WEBHOOK_RETRY_AFTER_SECONDS": "2",
        "LINLI_JOB_INTERVALS": json.dumps({"payments.pending_webhook_events": 1}),
        "LINLI_LOG_LEVEL": "ERROR",
    }
    first = BenchServer(kind, env=env)
    first.log_path = tmp / "first.log"
    restarted: list[BenchServer] = []
    db: Database | None = None
    apps: Apps | None = None
    try:
        await first.start()
        db = Database(first.url)
        apps = Apps(first.base_url)
        await _run(kind, first, restarted, db, apps, fcm, stripe, env, tmp)
    finally:
        if apps is not None:
            await apps.http.aclose()
        if db is not None:
            await db.dispose()
        for srv in restarted:
            await srv.stop()
        await first.stop()  # drops the database it made
        await stripe.stop()
        fcm.stop()
    # Every error the server hid behind a retry would be in its log (level ERROR).
    for log in tmp.glob("*.log"):
        text = log.read_text(encoding="utf-8", errors="replace")
        assert "Traceback" not in text and "unexpected error" not in text, text[-4000:]
    shutil.rmtree(tmp, ignore_errors=True)


async def _run(
    kind: str,
    first: BenchServer,
    restarted: list[BenchServer],
    db: Database,
    apps: Apps,
    fcm: FcmStub,
    stripe: StripeStub,
    env: dict[str, str],
    tmp: Path,
) -> None:
    # ---------------------------------------------------------------- setup
    logins = sorted(set(VOTERS) | set(PAYERS) | {"staff1"})
    tokens = {who: await apps.sign_in(who) for who in logins}
    user_ids = {
        who: decode_gid((await apps.gql(ME, {}, tokens[who]))["me"]["user"]["id"])[1]
        for who in logins
    }
    async with db.reader() as s:
        owned = {
            uid: sorted(await s.scalars(select(Ownership.unit_id).where(Ownership.user_id == uid)))
            for uid in user_ids.values()
        }
        garden = await s.scalar(
            select(Unit.community_id).where(Unit.id == owned[user_ids["resident1"]][0])
        )
        proposal = await s.scalar(
            select(Proposal.id).where(
                Proposal.community_id == garden,
                Proposal.status == "OPEN",
                Proposal.matter == "RENOVATION_REBUILD",
            )
        )
    assert garden is not None and proposal is not None
    garden_gid = encode_gid("Community", garden)
    for who in logins:
        data = await apps.gql(PUSH, {"t": _device(who)}, tokens[who])
        assert data["registerPushToken"]["ok"], data

    # Bills to pay: a monthly parking bill per paying owner, and resident1's demo bills.
    payer_units = {who: owned[user_ids[who]][0] for who in PAYERS if who != "resident1"}
    issue = {
        "communityId": garden_gid,
        "kind": "PARKING_MONTHLY",
        "period": "2026-12",
        "dueDate": "2026-12-20",
        "lines": [
            {"unitId": encode_gid("Unit", u), "amountMinor": 30_000 + i}
            for i, u in enumerate(payer_units.values())
        ],
    }
    out = await apps.gql(ISSUE, {"i": issue}, tokens["staff1"])
    assert out["issueBills"]["userErrors"] == [], out
    async with db.reader() as s:
        bills_of = {
            who: list(
                await s.scalars(
                    select(Bill.id).where(
                        Bill.unit_id.in_(owned[user_ids[who]]),  # type: ignore[attr-defined]
                        Bill.status.in_(["UNPAID", "OVERDUE"]),  # type: ignore[attr-defined]
                    )
                )
            )
            for who in PAYERS
        }
    assert all(bills_of.values()), bills_of
    balance_before = (await apps.gql(SUMMARY, {"c": garden_gid}, tokens["staff1"]))[
        "ledgerSummary"
    ]["balance"]["amountMinor"]

    # ---------------------------------------------------------------- traffic
    acked_choice: dict[int, str] = {}  # unit -> last choice the server acknowledged
    cast_keys: dict[int, list[str]] = defaultdict(list)
    ledger_keys: dict[str, int] = {}
    pay_keys: dict[str, str] = {}  # payer -> key
    event_ids: list[str] = []  # webhooks sent (each delivered until 2xx)
    run_id = f"{kind}-{int(time.time())}"

    # Payments go first; ballots and postings join once a webhook has come in, so all
    # kinds of operation are under way together when the process is killed.
    webhook_in = asyncio.Event()

    async def voter(who: str) -> None:
        await asyncio.wait_for(webhook_in.wait(), DEADLINE_S)
        unit = owned[user_ids[who]][0]
        for n, choice in enumerate(CHOICES):
            key = f"rec-{run_id}-ballot-{unit}-{n}"
            apps.started += 1
            data = await apps.gql(
                CAST,
                {
                    "p": encode_gid("Proposal", proposal),
                    "u": encode_gid("Unit", unit),
                    "c": choice,
                    "k": key,
                },
                tokens[who],
                op=key,
            )
            payload = data["castBallot"]
            assert payload["userErrors"] == [], payload
            assert payload["ballot"]["choice"] == choice
            cast_keys[unit].append(key)
            acked_choice[unit] = choice

    async def bookkeeper(w: int) -> None:
        await asyncio.wait_for(webhook_in.wait(), DEADLINE_S)
        for n in range(w, LEDGER_POSTS, LEDGER_WORKERS):
            key = f"rec-{run_id}-ledger-{n}"
            amount = 1_000 + n
            apps.started += 1
            data = await apps.gql(
                POST,
                {
                    "i": {
                        "communityId": garden_gid,
                        "account": "COMMON_INCOME",
                        "amountMinor": amount,
                        "category": "ADVERTISING",
                        "description": f"电梯广告 lift ads {n}",
                        "idempotencyKey": key,
                    }
                },
                tokens["staff1"],
                op=key,
            )
            payload = data["postLedgerEntry"]
            assert payload["userErrors"] == [], payload
            assert payload["entry"]["amount"]["amountMinor"] == amount
            ledger_keys[key] = amount

    async def payer(who: str) -> None:
        key = f"rec-{run_id}-pay-{who}"
        ids = [encode_gid("Bill", b) for b in bills_of[who]]
        apps.started += 1
        while True:
            data = await apps.gql(PAY, {"ids": ids, "k": key}, tokens[who], op=key)
            payload = data["payBills"]
            assert payload["userErrors"] == [], payload
            if payload["payment"]["clientSecret"]:
                break
            # Committed, but the PaymentIntent was not stored (the process died, or
            # Stripe was slow): the app asks again with the same key.
            await asyncio.sleep(0.1)
        pay_keys[who] = key
        pi_id = payload["payment"]["clientSecret"].split("_secret_")[0]
        # The payer's app confirms the payment sheet; Stripe then sends the webhook,
        # again and again until it gets a 2xx.
        stripe.set_intent(pi_id, "succeeded")
        body = stripe.event("payment_intent.succeeded", pi_id)
        event_ids.append(json.loads(body)["id"])
        r = await apps.post(
            "/webhooks/stripe",
            content=body,
            headers={
                "content-type": "application/json",
                "stripe-signature": _sign(stripe, body),
            },
        )
        assert r.status_code == 200, r.text
        webhook_in.set()

    clients = [asyncio.create_task(voter(w)) for w in VOTERS]
    clients += [asyncio.create_task(bookkeeper(w)) for w in range(LEDGER_WORKERS)]
    clients += [asyncio.create_task(payer(w)) for w in PAYERS]
    total_ops = len(VOTERS) * len(CHOICES) + LEDGER_POSTS + len(PAYERS)

    # ---------------------------------------------------------------- the crash
    async def started_enough() -> bool:
        return apps.started >= total_ops // 3 or all(c.done() for c in clients)

    await _wait_for("traffic to start", started_enough, timeout=60)
    # Preferably while a webhook event is being processed (its intent being retrieved):
    # stored, answered 2xx, not yet applied (bounded).
    read_deadline = time.monotonic() + 10
    while stripe.held_reads == 0 and time.monotonic() < read_deadline:
        await asyncio.sleep(0.01)
    # From here on the apps hear nothing more from this process: what it commits now
    # is answered only after the restart, from the idempotency key.
    apps.dropping = True
    # An emergency notice to every resident: a batch of pushes leaves the outbox while
    # the other operations go on (made before the kill, so not retried: no key).
    out = await apps.gql(ANNOUNCE, {"c": garden_gid}, tokens["staff1"], keep=True)
    assert out["publishAnnouncement"]["userErrors"] == [], out
    announcement = out["publishAnnouncement"]["announcement"]["id"]
    # Kill at the moment FCM has accepted pushes it has not answered yet and an answer
    # was lost (bounded: the verdict does not depend on it, the coverage does).
    hold_deadline = time.monotonic() + 5
    while (fcm.held == 0 or not apps.dropped_ops) and time.monotonic() < hold_deadline:
        await asyncio.sleep(0.01)
    in_window = fcm.held > 0
    stripe_held = stripe.held
    assert first.proc is not None
    first.proc.send_signal(signal.SIGKILL)
    killed_at = datetime.now(UTC)
    await asyncio.to_thread(first.proc.wait)
    apps.dropping = False
    # Nothing answers on the port any more (no orphaned worker kept serving).
    with pytest.raises(httpx.TransportError):
        await apps.http.get(f"{first.base_url}/readyz")
    in_flight = sum(not c.done() for c in clients)

    second = BenchServer(kind, env=env, url=first.url)
    second.port = first.port  # the apps keep their URL
    second.log_path = tmp / "second.log"
    restarted.append(second)
    await second.start()
    assert second.proc is not None and second.proc.poll() is None

    results = await asyncio.gather(*clients, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    assert len(ledger_keys) == LEDGER_POSTS and len(pay_keys) == len(PAYERS)

    # ---------------------------------------------------------------- settle
    async def payments_settled() -> bool:
        async with db.reader() as s:
            statuses = await s.scalars(
                select(Payment.status).where(
                    Payment.idempotency_key.in_(list(pay_keys.values()))  # type: ignore[attr-defined]
                )
            )
            return set(statuses) == {"SUCCEEDED"}

    async def outbox_drained() -> bool:
        async with db.reader() as s:
            rows = await s.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.status.in_(["PENDING", "SENDING"])  # type: ignore[attr-defined]
                )
            )
            return not list(rows)

    await _wait_for("payments to settle", payments_settled)
    await _wait_for("the outbox to drain", outbox_drained)

    # ---------------------------------------------------------------- ballots
    async with db.reader() as s:
        casts = list(await _rows(s, select(BallotCast).where(BallotCast.proposal_id == proposal)))
        ballots = {
            b.unit_id: b
            for b in await _rows(s, select(Ballot).where(Ballot.proposal_id == proposal))
        }
    per_key = Counter(c.idempotency_key for c in casts)
    ours = {k for keys in cast_keys.values() for k in keys}
    assert set(per_key) == ours and set(per_key.values()) == {1}, per_key
    assert set(ballots) == set(acked_choice)
    # Operations the killed process committed but could not answer: the retry with the
    # same key got the first result back (counted for the report).
    replayed = sum(
        1 for c in casts if c.idempotency_key in apps.retried_ops and _utc(c.cast_at) < killed_at
    )
    for unit, choice in acked_choice.items():
        assert ballots[unit].choice == choice, (unit, ballots[unit].choice, choice)
        assert ballots[unit].casts == len(CHOICES)

    # ---------------------------------------------------------------- ledger
    async with db.reader() as s:
        entries = list(
            await _rows(
                s,
                select(LedgerEntry).where(
                    LedgerEntry.community_id == garden, LedgerEntry.account == "COMMON_INCOME"
                ),
            )
        )
    per_key = Counter(e.idempotency_key for e in entries if e.idempotency_key in ledger_keys)
    replayed += sum(
        1
        for e in entries
        if e.idempotency_key in apps.retried_ops and _utc(e.posted_at) < killed_at
    )
    assert set(per_key) == set(ledger_keys) and set(per_key.values()) == {1}, per_key
    verify = (await apps.gql(VERIFY, {"c": garden_gid}, tokens["staff1"]))["verifyLedger"]
    assert verify["valid"] and verify["brokenAt"] is None, verify
    balance = (await apps.gql(SUMMARY, {"c": garden_gid}, tokens["staff1"]))["ledgerSummary"][
        "balance"
    ]["amountMinor"]
    assert balance == balance_before + sum(ledger_keys.values())

    # ---------------------------------------------------------------- payments
    async with db.reader() as s:
        payments = list(
            await _rows(
                s,
                select(Payment).where(Payment.idempotency_key.like(f"rec-{run_id}-%")),  # type: ignore[attr-defined]
            )
        )
        links = list(await _rows(s, select(BillPayment)))
        paid = {
            b.id: b
            for b in await _rows(
                s,
                select(Bill).where(
                    Bill.id.in_([b for ids in bills_of.values() for b in ids])  # type: ignore[union-attr]
                ),
            )
        }
        receipts = [
            n
            for n in await _rows(s, select(Notification).where(Notification.category == "BILLS"))
            if n.title_key == "bills.notice.paid_title"
        ]
    by_key = Counter((p.payer_user_id, p.idempotency_key) for p in payments)
    assert set(by_key) == {(user_ids[w], k) for w, k in pay_keys.items()}
    assert set(by_key.values()) == {1}, by_key
    assert all(p.status == "SUCCEEDED" for p in payments)
    replayed += sum(
        1
        for p in payments
        if p.idempotency_key in apps.retried_ops and _utc(p.created_at) < killed_at
    )
    refs = [p.provider_ref for p in payments]
    assert len(set(refs)) == len(payments) and all(r in stripe.intents for r in refs)
    assert stripe.created["payment_intent"] == len(payments), stripe.created
    # Each webhook stored once however often it was delivered, and processed once.
    async with db.reader() as s:
        events = await _rows(
            s,
            select(WebhookEvent).where(WebhookEvent.event_id.in_(event_ids)),  # type: ignore[attr-defined]
        )
    assert sorted(e.event_id for e in events) == sorted(event_ids)
    assert all(e.processed_at is not None and e.result == "SETTLED" for e in events), [
        (e.event_id, e.result, e.last_error) for e in events
    ]
    taken_over = sum(
        1
        for e in events
        if _utc(e.received_at) < killed_at and _utc(e.processed_at) > killed_at  # type: ignore[arg-type]
    )
    pay_of = {
        user_ids[w]: p.id for p in payments for w in pay_keys if p.payer_user_id == user_ids[w]
    }
    for who, ids in bills_of.items():
        for b in ids:
            assert paid[b].status == "PAID" and paid[b].paid_payment_id == pay_of[user_ids[who]]
    assert Counter(link.bill_id for link in links if link.bill_id in paid) == Counter(list(paid))
    ours_paid = {p.id for p in payments}
    assert Counter(
        n.data.get("payment_id") for n in receipts if n.data.get("payment_id") in ours_paid
    ) == Counter(ours_paid)

    # ---------------------------------------------------------------- notifications
    async with db.reader() as s:
        outbox = list(await _rows(s, select(OutboxMessage)))
        notes = {n.id: n for n in await _rows(s, select(Notification))}
        devices = {t.user_id: t.token for t in await _rows(s, select(PushToken))}
    assert outbox and all(o.status in ("SENT", "SKIPPED") for o in outbox), [
        (o.id, o.status, o.last_error) for o in outbox if o.status not in ("SENT", "SKIPPED")
    ]
    sent = {o.notification_id for o in outbox if o.status == "SENT"}
    # Every push of our traffic was sent: the emergency notice (CRITICAL) and each
    # payer's receipt, their only NORMAL push this hour, so no policy may skip it (a
    # re-claimed row keeps the decision of its first claim).
    announced = [
        n
        for n in notes.values()
        if n.data.get("announcementId") == announcement and n.user_id in devices
    ]
    assert len(announced) == len({n.user_id for n in announced})  # one each
    assert announced and all(n.id in sent for n in announced)
    our_receipts = [n for n in receipts if n.data.get("payment_id") in ours_paid]
    assert len(our_receipts) == len(payments)
    assert all(n.id in sent for n in our_receipts), [
        (o.notification_id, o.status, o.last_error)
        for o in outbox
        if o.notification_id in {n.id for n in our_receipts}
    ]
    messages = [dict(m) for m in fcm.messages]
    pushes = Counter((m["data"]["notificationId"], m["token"]) for m in messages)
    for o in outbox:
        if o.status == "SENT":
            gid = encode_gid("Notification", o.notification_id)
            assert pushes[(gid, devices[o.user_id])] >= 1, f"notification {gid} lost"
    # Nothing reached FCM that the database does not know as SENT.
    assert {decode_gid(g)[1] for g, _ in pushes} <= sent
    # Re-sends (only after a crash between FCM's acceptance and our record) carry the
    # notification's own collapse id, so the device shows them once.
    resent = {key: n for key, n in pushes.items() if n > 1}
    # One crash: a push is sent at most twice, and only for a row the dead process had
    # claimed (claimed again after its lease ran out).
    attempts = {encode_gid("Notification", o.notification_id): o.attempts for o in outbox}
    assert all(n == 2 and attempts[gid] >= 2 for (gid, _), n in resent.items()), resent
    for m in messages:
        if (m["data"]["notificationId"], m["token"]) in resent:
            assert m["android"]["collapse_key"] == m["data"]["notificationId"]
            assert m["android"]["notification"]["tag"] == m["data"]["notificationId"]
    assert apps.server_errors == []
    # The new process served everything after the kill (it did not fail to start).
    assert second.proc.poll() is None
    # The kill came after at least one operation was committed but not answered.
    assert replayed >= 1, (apps.dropped_ops, apps.retried_ops)
    print(
        f"\n[{kind}] killed with {in_flight} client operations in flight "
        f"(FCM answers held back: {'yes' if in_window else 'no'}, Stripe answers held "
        f"back: {stripe_held}); "
        f"{apps.retries} retried attempts; {len(apps.retried_ops)} operations retried across "
        f"the crash, {replayed} of them committed by the killed process and answered from "
        f"their key ({apps.dropped} answers lost); {taken_over} webhook events stored by "
        f"the killed process and processed by the new one; {len(pushes)} pushes, "
        f"{sum(n - 1 for n in resent.values())} re-sent after the crash (same collapse id)"
    )


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _device(who: str) -> str:
    return f"recovery-device-{who}-" + "x" * 120


def _sign(stripe: StripeStub, body: bytes) -> str:
    from tests.stubs.stripe_stub import sign_webhook

    return sign_webhook(body, stripe.webhook_secret)
