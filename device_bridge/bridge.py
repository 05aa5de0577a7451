"""MQTT subscriber and command publisher, run as a lifespan component of the app.

- Subscribes at QoS 1 to `linli/+/+/telemetry` and `linli/+/+/commands/ack` (as
  `$share/<group>/...` when LINLI_MQTT_SHARED_GROUP is set, so several bridge processes
  split the load), MQTT v5 with a persistent session: the broker keeps our subscription
  and queues messages while we reconnect (with exponential backoff) after a restart.
- Messages are acknowledged (PUBACK) only after the transaction holding them commits, so
  a reading is never lost between the broker and the database; the price is that a
  crash after the commit and before the ack makes the broker deliver it again (QoS 1 is
  at-least-once).
- Back-pressure: the broker sends at most `receive maximum` unacknowledged messages,
  and the bridge holds at most `queue_size` decoded messages; when the database is slow
  the bridge stops acknowledging and the broker holds the rest.
- Bad payloads are counted per device (`devices.bad_payloads`) and logged at most once
  a minute per device; they are acknowledged and dropped, never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiomqtt
import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

import domain.alarms.rules  # noqa: F401 - the alarm rules evaluate every reading
from core.clock import utcnow
from core.db import Database
from domain.devices import commands
from domain.devices.errors import BadPayload
from domain.devices.ingest import devices_by_code, ingest
from domain.devices.models import Device
from domain.devices.payloads import Reading, decode, parse

if TYPE_CHECKING:
    from api.app import AppState

log = logging.getLogger("linli.bridge")

TELEMETRY = "linli/+/+/telemetry"
COMMAND_ACKS = "linli/+/+/commands/ack"
TRANSIENT = (OperationalError, InterfaceError, OSError, TimeoutError)


def parse_mqtt_url(url: str) -> tuple[str, int]:
    rest = url.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
    return host or rest, int(port) if port else 1883


@dataclass
class Stats:
    received: int = 0
    stored: int = 0
    bad: int = 0
    unknown: int = 0
    acks: int = 0
    batches: int = 0
    connects: int = 0


@dataclass(slots=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int
    client: aiomqtt.Client


@dataclass
class _Batch:
    # Keyed by (community in the topic, device code): the topic's community is checked
    # against the device's own, so a device cannot speak for another community.
    readings: dict[tuple[int, str], list[Reading]] = field(
        default_factory=lambda: defaultdict(list)
    )
    bad: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    acks: list[tuple[int, str, int, dict[str, Any]]] = field(default_factory=list)


class DeviceBridge:
    def __init__(
        self,
        url: str,
        *,
        shared_group: str | None = None,
        batch_size: int = 500,
        queue_size: int = 20000,
        client_id: str | None = None,
        command_retry_s: float = 2.0,
        topic_root: str = "linli",
        session_expiry_s: int = 3600,
        linger_s: float = 0.005,
    ) -> None:
        self.host, self.port = parse_mqtt_url(url)
        self.shared_group = shared_group
        self.batch_size = batch_size
        self.queue_size = queue_size
        self.client_id = client_id or f"linli-bridge-{socket.gethostname()}-{os.getpid()}"
        self.command_retry_s = command_retry_s
        # Another root keeps test runs that share a broker out of each other's way.
        self.topic_root = topic_root
        self.session_expiry_s = session_expiry_s
        self.linger_s = linger_s
        self.stats = Stats()
        self.connected = asyncio.Event()
        self._queue: asyncio.Queue[Incoming] = asyncio.Queue(queue_size)
        self._client: aiomqtt.Client | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._db: Database | None = None
        self._last_bad_log: dict[str, float] = {}

    # ------------------------------------------------------------ lifecycle
    async def start(self, state: AppState) -> None:
        self._db = state.db
        self._tasks = [
            asyncio.create_task(self._connection_loop(), name="bridge-mqtt"),
            asyncio.create_task(self._writer_loop(), name="bridge-writer"),
            asyncio.create_task(self._command_loop(), name="bridge-commands"),
        ]

    async def stop(self) -> None:
        commands.set_publisher(None)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    def _filter(self, topic: str) -> str:
        topic = self.topic_root + topic[len("linli") :]
        return f"$share/{self.shared_group}/{topic}" if self.shared_group else topic

    # ------------------------------------------------------------ receiving
    async def _connection_loop(self) -> None:
        backoff = 0.5
        connect_props = Properties(PacketTypes.CONNECT)
        # Keep the session (subscriptions, queued QoS 1 messages) while we are away.
        connect_props.SessionExpiryInterval = self.session_expiry_s
        connect_props.ReceiveMaximum = min(self.queue_size, 65535)
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    identifier=self.client_id,
                    protocol=aiomqtt.ProtocolVersion.V5,
                    clean_start=False,
                    properties=connect_props,
                    keepalive=30,
                    timeout=10,
                ) as client:
                    # Acknowledge only what is committed (see the module docstring).
                    client._client.manual_ack_set(True)
                    sub_props = Properties(PacketTypes.SUBSCRIBE)
                    await client.subscribe(
                        [(self._filter(TELEMETRY), 1), (self._filter(COMMAND_ACKS), 1)],
                        properties=sub_props,
                    )
                    self._client = client
                    self.stats.connects += 1
                    backoff = 0.5
                    commands.set_publisher(self._publish)
                    self.connected.set()
                    log.info("device bridge connected to %s:%s", self.host, self.port)
                    async for message in client.messages:
                        payload = message.payload
                        if not isinstance(payload, bytes | bytearray):
                            payload = str(payload).encode()
                        # Blocks when the writer is behind: back-pressure to the broker.
                        await self._queue.put(
                            Incoming(
                                message.topic.value,
                                bytes(payload),
                                message.mid,
                                message.qos,
                                client,
                            )
                        )
            except asyncio.CancelledError:
                raise
            except aiomqtt.MqttError as exc:
                log.warning("MQTT connection lost (%s); reconnecting in %.1fs", exc, backoff)
            except Exception:
                log.exception("device bridge receive loop failed; reconnecting in %.1fs", backoff)
            finally:
                self.connected.clear()
                commands.set_publisher(None)
                self._client = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    # ------------------------------------------------------------ writing
    async def _writer_loop(self) -> None:
        while True:
            items = [await self._queue.get()]
            self._drain(items)
            if len(items) < self.batch_size and self.linger_s > 0:
                # A few milliseconds of patience buys many readings per transaction.
                await asyncio.sleep(self.linger_s)
                self._drain(items)
            await self._handle(items)

    def _drain(self, items: list[Incoming]) -> None:
        while len(items) < self.batch_size and not self._queue.empty():
            items.append(self._queue.get_nowait())

    async def _handle(self, items: list[Incoming]) -> None:
        delay = 0.2
        while True:
            try:
                await self._store(items)
                break
            except TRANSIENT as exc:
                log.warning("database unavailable (%s); retrying the batch in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            except Exception:
                if len(items) == 1:
                    log.exception("dropping a message that cannot be stored (%s)", items[0].topic)
                    break
                # One poisonous message must not block the others: store them one by one.
                for item in items:
                    await self._handle([item])
                return
        self._ack(items)

    def _ack(self, items: list[Incoming]) -> None:
        for item in items:
            if item.qos > 0 and item.client is self._client:
                # After a reconnect the broker redelivers what we did not acknowledge.
                item.client._client.ack(item.mid, item.qos)
                self.stats.acks += 1

    def _classify(self, items: list[Incoming]) -> _Batch:
        batch = _Batch()
        now = utcnow()
        for item in items:
            self.stats.received += 1
            parts = item.topic.split("/")
            if len(parts) < 4 or parts[0] != self.topic_root:
                self.stats.bad += 1
                continue
            community, code = parts[1], parts[2]
            if not community.isdigit():
                batch.bad[code] += 1
                continue
            if parts[3:] == ["commands", "ack"]:
                try:
                    body = decode(item.payload)
                    command_id = body["id"]
                    if not isinstance(command_id, int) or isinstance(command_id, bool):
                        raise BadPayload("id must be an integer")
                except (BadPayload, KeyError, TypeError):
                    batch.bad[code] += 1
                    continue
                batch.acks.append((int(community), code, command_id, body))
                continue
            try:
                readings = parse(decode(item.payload), now)
            except BadPayload as exc:
                batch.bad[code] += 1
                self._log_bad(code, exc.reason)
                continue
            batch.readings[(int(community), code)].extend(readings)
        return batch

    def _log_bad(self, code: str, reason: str) -> None:
        now = time.monotonic()
        if now - self._last_bad_log.get(code, 0.0) >= 60.0:
            self._last_bad_log[code] = now
            log.warning("bad payload from device %s: %s", code[:64], reason)

    async def _store(self, items: list[Incoming]) -> None:
        assert self._db is not None
        batch = self._classify(items)
        codes = {c for _, c in batch.readings} | set(batch.bad) | {a[1] for a in batch.acks}
        if not codes:
            return
        async with self._db.transaction() as session:
            devices = await devices_by_code(session, codes)
            work: list[tuple[Device, list[Reading]]] = []
            for (community, code), readings in batch.readings.items():
                device = devices.get(code)
                if device is None or device.community_id != community:
                    self.stats.unknown += len(readings)
                    continue
                work.append((device, readings))
            stored = await ingest(session, work)
            for community, code, command_id, body in batch.acks:
                device = devices.get(code)
                if device is not None and device.community_id == community:
                    result = {k: v for k, v in body.items() if k not in ("id", "ok")}
                    await commands.record_ack(
                        session,
                        device=device,
                        command_id=command_id,
                        ok=bool(body.get("ok", True)),
                        result=result,
                    )
            for code, n in batch.bad.items():
                if code in devices:
                    await session.execute(
                        update(Device)
                        .where(Device.code == code)  # type: ignore[arg-type]
                        .values(bad_payloads=Device.bad_payloads + n)
                    )
        self.stats.stored += stored
        self.stats.bad += sum(batch.bad.values())
        self.stats.batches += 1

    # ------------------------------------------------------------ commands
    async def _publish(self, topic: str, message: dict[str, Any]) -> None:
        client = self._client
        if client is None:
            raise aiomqtt.MqttError("not connected")
        if self.topic_root != "linli":
            topic = self.topic_root + topic[len("linli") :]
        await client.publish(topic, orjson.dumps(message), qos=1)

    async def _command_loop(self) -> None:
        """Republish unacknowledged commands and time out the expired ones."""
        assert self._db is not None
        while True:
            await asyncio.sleep(self.command_retry_s)
            if self._client is None:
                continue
            try:
                async with self._db.transaction() as session:
                    due = await commands.due_for_publishing(session, now=utcnow())
                for topic, message in due:
                    await commands.publish_now(topic, message)
            except (DBAPIError, *TRANSIENT) as exc:
                log.warning("command retry sweep failed: %s", exc)
