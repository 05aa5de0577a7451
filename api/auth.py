"""Bearer tokens → Principal, for HTTP requests and WebSocket connection_init."""

from __future__ import annotations

import time
from collections import OrderedDict

from core import keys
from core.db import Database
from core.errors import Unauthenticated
from core.principal import ANONYMOUS, Principal
from domain.accounts import repository as accounts_repo

# Roles are re-read at most this often per user and process: a role change or a closed
# account takes effect within this many seconds without a query on every request.
PRINCIPAL_TTL_SECONDS = 5.0


class PrincipalResolver:
    def __init__(self, db: Database, ttl: float = PRINCIPAL_TTL_SECONDS, size: int = 10_000):
        self._db = db
        self._ttl = ttl
        self._size = size
        self._cache: OrderedDict[int, tuple[float, Principal]] = OrderedDict()

    def invalidate(self, user_id: int | None = None) -> None:
        if user_id is None:
            self._cache.clear()
        else:
            self._cache.pop(user_id, None)

    async def from_authorization(self, header: str | None) -> Principal:
        """No header: anonymous. A header that is not a valid bearer token: refused."""
        if not header:
            return ANONYMOUS
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("malformed Authorization header")
        user_id = keys.decode_access_token(token.strip())
        return await self.for_user(user_id)

    async def for_user(self, user_id: int) -> Principal:
        now = time.monotonic()
        hit = self._cache.get(user_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._db.reader() as session:
            user, rows = await accounts_repo.load_principal_rows(session, user_id)
            locale = user.locale if user is not None else None
        if locale is None:
            self._cache.pop(user_id, None)
            raise Unauthenticated("unknown or closed account")
        principal = Principal.build(user_id, rows, locale)
        self._cache[user_id] = (now + self._ttl, principal)
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return principal
