"""Chinese licence plates: one canonical spelling for what cameras and people type.

Cameras and drivers write the same plate in many ways ("京A·7B2C9", "京a 7b2c9",
full-width "京Ａ７Ｂ２Ｃ９"); sessions, passes and look-ups must agree on one form, so
every plate entering the domain goes through `normalize_plate` first.
"""

from __future__ import annotations

import re
import unicodedata

from domain.parking.errors import InvalidPlate

# The 31 provincial-level abbreviations used on civilian plates.
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Serial characters: digits and Latin letters except I and O (confused with 1 and 0).
_S = "[A-HJ-NP-Z0-9]"
# The last character of an ordinary plate may also be a use mark.
_LAST = "[A-HJ-NP-Z0-9挂学警港澳领试超]"
_PATTERNS = (
    # Ordinary blue/yellow plates: 京A7B2C9 (7 characters).
    re.compile(f"^[{PROVINCES}][A-Z]{_S}{{4}}{_LAST}$"),
    # New-energy small cars: D (battery) or F (hybrid) then 5 characters: 京AD12345.
    re.compile(f"^[{PROVINCES}][A-Z][DF]{_S}[0-9]{{4}}$"),
    # New-energy large vehicles: five digits then D or F: 京A12345D.
    re.compile(f"^[{PROVINCES}][A-Z][0-9]{{5}}[DF]$"),
)
_SEPARATORS = re.compile(r"[\s·•・.\-_]+")


def normalize_plate(text: str | None, *, field: list[str] | None = None) -> str:
    """The canonical plate ("京AD12345"), or InvalidPlate with a message saying why."""
    raw = (text or "").strip()
    if not raw:
        raise InvalidPlate("parking.plate.empty", field=field)
    # NFKC folds full-width Latin letters and digits into ASCII.
    plate = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if len(plate) > 12:
        raise InvalidPlate("parking.plate.malformed", field=field, plate=raw[:20])
    if plate[0] not in PROVINCES:
        raise InvalidPlate("parking.plate.province", field=field, plate=plate)
    if not any(p.match(plate) for p in _PATTERNS):
        raise InvalidPlate("parking.plate.malformed", field=field, plate=plate)
    return plate


def is_new_energy(plate: str) -> bool:
    return len(plate) == 8
