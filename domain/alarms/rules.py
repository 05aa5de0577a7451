"""Alarm rules per device kind, with per-device overrides, evaluated at ingest.

A rule set is, per alarm type, up to one condition per severity (metric, comparison,
threshold, and optionally `duration_s` — the breach must last that long — or `count` —
that many consecutive breaching readings) plus a clear condition with its own threshold
(hysteresis: between the raise and the clear thresholds nothing changes). The highest
severity whose condition is met wins; the alarm service only ever raises an active
alarm's severity.

Per-device overrides live in `Device.config["rules"]`: `{TYPE: spec}` replaces the kind's
rule of that type, `{TYPE: null}` switches it off; a spec has the same shape as the
defaults below. Pending breaches are kept in `Device.rule_state`, so whichever bridge
process gets the next reading continues where the last one stopped. Readings older than
the last evaluated one (a gateway's late buffer) are stored but not evaluated.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.alarms import service as alarms
from domain.alarms.models import SEVERITY_RANK
from domain.devices.ingest import register_evaluator
from domain.devices.models import Device
from domain.devices.payloads import Reading, numeric

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
NEGATION = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}

DEVICE_OFFLINE = "DEVICE_OFFLINE"


@dataclass(frozen=True, slots=True)
class Condition:
    metric: str
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        return OPS[self.op](value, self.threshold)


@dataclass(frozen=True, slots=True)
class SeverityRule:
    severity: str
    condition: Condition
    duration_ms: int = 0
    count: int = 1


@dataclass(frozen=True, slots=True)
class AlarmRule:
    type: str
    rules: tuple[SeverityRule, ...]  # highest severity first
    clear: tuple[Condition, ...]  # all must hold
    metrics: frozenset[str]
    direction: str  # "high" or "low": which way the peak goes


def _cond(spec: dict[str, Any], metric: str | None = None) -> Condition:
    op = spec["op"]
    if op not in OPS:
        raise ValueError(f"unknown comparison {op!r}")
    threshold = spec["threshold"]
    value = numeric(threshold)
    if value is None:
        raise ValueError("threshold must be a number or boolean")
    return Condition(spec.get("metric", metric), op, value)


def parse_rule(type: str, spec: dict[str, Any]) -> AlarmRule:
    """{"metric": m, "severities": {SEV: {"op", "threshold", "duration_s"?, "count"?,
    "metric"?}}, "clear": {"op", "threshold"} | [..]?}"""
    metric = spec.get("metric")
    rules = []
    for severity, rspec in spec["severities"].items():
        if severity not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {severity!r}")
        rules.append(
            SeverityRule(
                severity,
                _cond(rspec, metric),
                int(float(rspec.get("duration_s", 0)) * 1000),
                max(1, int(rspec.get("count", 1))),
            )
        )
    if not rules:
        raise ValueError("a rule needs at least one severity")
    rules.sort(key=lambda r: SEVERITY_RANK[r.severity], reverse=True)
    clear_spec = spec.get("clear")
    clear: tuple[Condition, ...]
    if clear_spec is None:
        # Without its own clear threshold: clear as soon as the mildest condition fails.
        weakest = rules[-1].condition
        clear = (Condition(weakest.metric, NEGATION[weakest.op], weakest.threshold),)
    else:
        specs = clear_spec if isinstance(clear_spec, list) else [clear_spec]
        clear = tuple(_cond(c, metric) for c in specs)
    metrics = frozenset(r.condition.metric for r in rules) | {c.metric for c in clear}
    direction = "low" if rules[0].condition.op in ("<", "<=") else "high"
    return AlarmRule(type, tuple(rules), clear, metrics, direction)


def _sev(op: str, threshold: float | bool, **extra: Any) -> dict[str, Any]:
    return {"op": op, "threshold": threshold, **extra}


# Defaults per kind; metrics and units in docs/devices.md.
BATTERY = {
    "LOW_BATTERY": {
        "metric": "battery",
        "severities": {"MINOR": _sev("<", 10), "WARNING": _sev("<", 20)},
        "clear": {"op": ">", "threshold": 25},
    }
}
DEFAULT_RULES: dict[str, dict[str, dict[str, Any]]] = {
    "SMOKE_DETECTOR": {
        "SMOKE": {
            "metric": "smoke",
            "severities": {
                "CRITICAL": _sev("==", True, metric="alarm"),
                "MAJOR": _sev(">=", 4.0, count=2),
            },
            "clear": [
                {"metric": "smoke", "op": "<", "threshold": 1.0},
                {"metric": "alarm", "op": "==", "threshold": False},
            ],
        },
    },
    "GAS_DETECTOR": {
        "GAS_LEAK": {
            "metric": "gas",
            "severities": {"CRITICAL": _sev(">=", 25), "MAJOR": _sev(">=", 10, duration_s=10)},
            "clear": {"op": "<", "threshold": 5},
        },
    },
    "ELEVATOR": {
        "ELEVATOR_STUCK": {
            "metric": "stuck",
            "severities": {"CRITICAL": _sev("==", True)},
            "clear": {"op": "==", "threshold": False},
        },
        "DOOR_FAULT": {
            "metric": "door_open",
            "severities": {"MAJOR": _sev("==", True, duration_s=120)},
            "clear": {"op": "==", "threshold": False},
        },
    },
    "WATER_PUMP": {
        "LOW_PRESSURE": {
            "metric": "pressure",
            "severities": {
                "CRITICAL": _sev("<", 80, duration_s=30),
                "MAJOR": _sev("<", 150, duration_s=60),
            },
            "clear": {"op": ">", "threshold": 200},
        },
        "HIGH_VIBRATION": {
            "metric": "vibration",
            "severities": {"MAJOR": _sev(">", 11.2, count=3), "MINOR": _sev(">", 7.1, count=3)},
            "clear": {"op": "<", "threshold": 4.5},
        },
    },
    "TRANSFORMER": {
        "OVER_TEMPERATURE": {
            "metric": "temperature",
            "severities": {"CRITICAL": _sev(">", 105), "MAJOR": _sev(">", 85, duration_s=60)},
            "clear": {"op": "<", "threshold": 75},
        },
        "OVERLOAD": {
            "metric": "load",
            "severities": {
                "MAJOR": _sev(">", 110, duration_s=60),
                "MINOR": _sev(">", 90, duration_s=300),
            },
            "clear": {"op": "<", "threshold": 80},
        },
    },
    "MANHOLE_COVER": {
        "COVER_OPEN": {
            "metric": "open",
            "severities": {"MAJOR": _sev("==", True)},
            "clear": {"op": "==", "threshold": False},
        },
        "COVER_TILT": {
            "metric": "tilt",
            "severities": {"MAJOR": _sev(">", 15), "MINOR": _sev(">", 5, count=2)},
            "clear": {"op": "<", "threshold": 2},
        },
    },
    "WATER_METER": {
        # Water flowing without a pause for hours: a leak (or a tap left open).
        "LEAK": {
            "metric": "flow",
            "severities": {
                "MAJOR": _sev(">", 0, duration_s=6 * 3600),
                "MINOR": _sev(">", 0, duration_s=2 * 3600),
            },
            "clear": {"op": "<=", "threshold": 0},
        },
    },
}

_parsed_defaults: dict[str, dict[str, AlarmRule]] = {}


def kind_rules(kind: str) -> dict[str, AlarmRule]:
    rules = _parsed_defaults.get(kind)
    if rules is None:
        specs = {**DEFAULT_RULES.get(kind, {}), **BATTERY}
        rules = {t: parse_rule(t, s) for t, s in specs.items()}
        _parsed_defaults[kind] = rules
    return rules


def rules_for(device: Device) -> dict[str, AlarmRule]:
    rules = kind_rules(device.kind)
    overrides = (device.config or {}).get("rules")
    if not overrides:
        return rules
    merged = dict(rules)
    for type, spec in overrides.items():
        if spec is None:
            merged.pop(type, None)
        else:
            merged[type] = parse_rule(type, spec)
    return merged


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


async def evaluate_device(
    session: AsyncSession, device: Device, readings: list[Reading], now: datetime
) -> None:
    """Run a device's readings (in time order) through its rules."""
    assert device.id is not None
    await _back_online(session, device)
    rules = rules_for(device)
    if not rules:
        return
    state: dict[str, Any] = {
        k: dict(v) if isinstance(v, dict) else v for k, v in (device.rule_state or {}).items()
    }
    last_ms = state.get("_ts", 0)
    current = dict(device.latest or {})
    for reading in readings:
        ms = _ms(reading.ts)
        if ms < last_ms:
            continue
        last_ms = ms
        current.update(reading.values)
        for rule in rules.values():
            if rule.metrics.isdisjoint(reading.values):
                continue
            await _evaluate_rule(session, device, rule, state, reading, ms, current)
    state["_ts"] = last_ms
    device.rule_state = state


async def _evaluate_rule(
    session: AsyncSession,
    device: Device,
    rule: AlarmRule,
    state: dict[str, Any],
    reading: Reading,
    ms: int,
    current: dict[str, Any],
) -> None:
    st: dict[str, Any] = dict(state.get(rule.type) or {})
    matched: tuple[SeverityRule, float] | None = None
    for srule in rule.rules:
        raw = reading.values.get(srule.condition.metric)
        value = numeric(raw) if raw is not None else None
        if value is None:
            continue  # not reported in this reading: its pending breach stands
        if srule.condition.holds(value):
            pending = dict(st.get(srule.severity) or {"since": ms, "count": 0})
            pending["count"] += 1
            st[srule.severity] = pending
            if matched is None and (
                ms - pending["since"] >= srule.duration_ms and pending["count"] >= srule.count
            ):
                matched = (srule, value)
        else:
            st.pop(srule.severity, None)
    if matched is not None:
        srule, value = matched
        await alarms.raise_alarm(
            session,
            community_id=device.community_id,
            type=rule.type,
            severity=srule.severity,
            device_id=device.id,
            unit_id=device.unit_id,
            details={
                "metric": srule.condition.metric,
                "value": value,
                "op": srule.condition.op,
                "threshold": srule.condition.threshold,
                "direction": rule.direction,
            },
            at=reading.ts,
        )
        st["active"] = True
    elif st.get("active") and _clear_holds(rule, current):
        alarm = await alarms.open_alarm(session, f"device:{device.id}", rule.type)
        if alarm is not None:
            await alarms.clear_alarm(session, alarm)
        st = {}
    state[rule.type] = st


def _clear_holds(rule: AlarmRule, current: dict[str, Any]) -> bool:
    for cond in rule.clear:
        raw = current.get(cond.metric)
        value = numeric(raw) if raw is not None else None
        if value is not None and not cond.holds(value):
            return False
    return True


async def _back_online(session: AsyncSession, device: Device) -> None:
    if device.online or device.last_seen_at is None:
        return
    alarm = await alarms.open_alarm(session, f"device:{device.id}", DEVICE_OFFLINE)
    if alarm is not None:
        await alarms.clear_alarm(session, alarm)


register_evaluator(evaluate_device)
