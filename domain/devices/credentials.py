"""Per-device credentials: argon2id hashes, with a small cache of recent successes.

A gateway posting every few seconds would otherwise pay an argon2 verification (tens of
milliseconds of CPU) per request. The cache keys on the stored hash too, so a rotated
credential is never accepted from the cache.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import DUMMY_PASSWORD_HASH, hash_password, verify_password
from domain.devices.models import Device

_CACHE_SIZE = 10_000
_verified: OrderedDict[tuple[str, str, str], None] = OrderedDict()


def hash_credential(credential: str) -> str:
    return hash_password(credential)


def _remembered(key: tuple[str, str, str]) -> bool:
    if key in _verified:
        _verified.move_to_end(key)
        return True
    return False


def _remember(key: tuple[str, str, str]) -> None:
    _verified[key] = None
    while len(_verified) > _CACHE_SIZE:
        _verified.popitem(last=False)


async def authenticate_device(
    session: AsyncSession, code: str, credential: str, *, lock: bool = False
) -> Device | None:
    """The device with this code if the credential is its own, else None."""
    if not code or not credential or len(code) > 64 or len(credential) > 256:
        return None
    stmt = select(Device).where(Device.code == code)
    if lock:
        stmt = stmt.with_for_update()
    device = await session.scalar(stmt)
    if device is None:
        # Same work as a real check, so timing does not reveal which codes exist.
        await asyncio.to_thread(verify_password, DUMMY_PASSWORD_HASH, credential)
        return None
    key = (code, device.credential_hash, hashlib.sha256(credential.encode()).hexdigest())
    if _remembered(key):
        return device
    if await asyncio.to_thread(verify_password, device.credential_hash, credential):
        _remember(key)
        return device
    return None
