"""Units of core: crypto, ids, money, i18n."""

from __future__ import annotations

import pytest

from core import i18n
from core.crypto import DataCipher, mask_phone, sm3_hex
from core.ids import InvalidGlobalId, decode_gid, encode_gid
from core.money import Money


def test_sm3_known_answer():
    # GB/T 32905-2016 example 1.
    assert sm3_hex("abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_sm4_gcm_round_trip_and_tamper_detection():
    cipher = DataCipher.from_master(b"m" * 40)
    blob = cipher.encrypt("13800138000")
    assert b"13800138000" not in blob
    assert cipher.decrypt(blob) == "13800138000"
    assert cipher.encrypt("13800138000") != blob  # fresh nonce each time
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(ValueError):
        cipher.decrypt(tampered)
    other = DataCipher.from_master(b"n" * 40)
    with pytest.raises(ValueError):
        other.decrypt(blob)


def test_blind_index_is_keyed_and_stable():
    a, b = DataCipher.from_master(b"m" * 40), DataCipher.from_master(b"n" * 40)
    assert a.blind_index("x") == a.blind_index("x")
    assert a.blind_index("x") != b.blind_index("x")


def test_mask_phone():
    assert mask_phone("13800138000") == "138****8000"


def test_global_ids():
    gid = encode_gid("Unit", 42)
    assert decode_gid(gid) == ("Unit", 42)
    assert decode_gid(gid, "Unit") == ("Unit", 42)
    for bad in ("", "!!", encode_gid("Unit", 1)[:-1] + "*", "VW5pdDphYmM"):
        with pytest.raises(InvalidGlobalId):
            decode_gid(bad)
    with pytest.raises(InvalidGlobalId):
        decode_gid(gid, "User")


def test_money_formatting():
    assert Money(1250, "CNY").formatted() == "12.50"
    assert Money(-5, "CNY").formatted() == "-0.05"
    assert Money(300, "JPY").formatted() == "300"
    assert (Money(1, "CNY") + Money(2, "CNY")).amount_minor == 3
    with pytest.raises(ValueError):
        Money(1, "CNY") + Money(1, "USD")


def test_locale_negotiation():
    assert i18n.negotiate(None) == "zh-CN"
    assert i18n.negotiate("en-US,en;q=0.9") == "en"
    assert i18n.negotiate("fr, en;q=0.5, zh;q=0.8") == "zh-CN"
    assert i18n.negotiate("fr") == "zh-CN"
    assert i18n.translate("error.not_found", "en") == "Not found."
    assert i18n.translate("error.rate_limited", "en", minutes=3).endswith("3 minutes.")
