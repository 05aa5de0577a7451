"""The demo community's devices (seeded by api/ext/devices.py, driven by `linli
simulate`). Every one has the credential DEMO_CREDENTIAL."""

from __future__ import annotations

DEMO_CREDENTIAL = "linli-demo-2026"

# (code, kind, building, unit label, floor, location, metrics in docs/devices.md)
DEMO_DEVICES: list[tuple[str, str, str | None, str | None, int | None, str]] = [
    ("G-1-301-SMOKE", "SMOKE_DETECTOR", "1", "1-301", 3, "1-301 kitchen"),
    ("G-1-301-GAS", "GAS_DETECTOR", "1", "1-301", 3, "1-301 kitchen"),
    ("G-1-SMOKE-L1", "SMOKE_DETECTOR", "1", None, 1, "Building 1 lobby"),
    ("G-2-SMOKE-L1", "SMOKE_DETECTOR", "2", None, 1, "Building 2 lobby"),
    ("G-3-SMOKE-L1", "SMOKE_DETECTOR", "3", None, 1, "Building 3 lobby"),
    ("G-2-GAS-B1", "GAS_DETECTOR", "2", None, -1, "Building 2 boiler room"),
    ("G-1-ELEV-A", "ELEVATOR", "1", None, None, "Building 1 lift A"),
    ("G-2-ELEV-A", "ELEVATOR", "2", None, None, "Building 2 lift A"),
    ("G-3-ELEV-A", "ELEVATOR", "3", None, None, "Building 3 lift A"),
    ("G-2-PUMP-1", "WATER_PUMP", "2", None, -1, "Building 2 pump room"),
    ("G-3-TRANS-1", "TRANSFORMER", "3", None, None, "Substation behind building 3"),
    ("G-MH-N1", "MANHOLE_COVER", None, None, None, "North road, by the gate"),
    ("G-MH-S1", "MANHOLE_COVER", None, None, None, "South road, by building 3"),
    ("G-1-101-WM", "WATER_METER", "1", "1-101", 1, "1-101 water meter"),
    ("G-1-101-PM", "POWER_METER", "1", "1-101", 1, "1-101 power meter"),
    ("G-3-WM-MAIN", "WATER_METER", "3", None, -1, "Main water inlet"),
    ("G-3-PM-MAIN", "POWER_METER", "3", None, None, "Main power feed"),
    ("G-GATE-N-IN", "PARKING_GATE", None, None, None, "North gate, entry lane"),
    ("G-GATE-N-OUT", "PARKING_GATE", None, None, None, "North gate, exit lane"),
    ("G-EV-1", "EV_CHARGER", "2", None, -1, "Garage, bay 12"),
    ("G-1-DOOR", "DOOR_ACCESS", "1", None, 1, "Building 1 entrance"),
    ("G-CAM-N", "CAMERA", None, None, None, "North gate"),
]
