"""Process-wide keys derived from the master secret, configured once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import jwt

from core.clock import utcnow
from core.crypto import DataCipher, derive_key
from core.errors import Unauthenticated


@dataclass(frozen=True)
class Keys:
    jwt_key: bytes
    cipher: DataCipher
    qr_key: bytes
    access_ttl: timedelta


_keys: Keys | None = None


def configure(master: bytes, *, access_ttl_seconds: int = 900) -> Keys:
    global _keys
    _keys = Keys(
        jwt_key=derive_key(master, "jwt-hs256"),
        cipher=DataCipher.from_master(master),
        qr_key=derive_key(master, "parking-qr"),
        access_ttl=timedelta(seconds=access_ttl_seconds),
    )
    return _keys


def keys() -> Keys:
    if _keys is None:
        raise RuntimeError("keys are not configured; call core.keys.configure() at start-up")
    return _keys


def cipher() -> DataCipher:
    return keys().cipher


_ISSUER = "linli"


def issue_access_token(user_id: int) -> str:
    k = keys()
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + k.access_ttl,
        "iss": _ISSUER,
        "typ": "access",
    }
    return jwt.encode(claims, k.jwt_key, algorithm="HS256")


def decode_access_token(token: str) -> int:
    """Return the user id; raise Unauthenticated on anything wrong with the token."""
    try:
        claims = jwt.decode(
            token,
            keys().jwt_key,
            algorithms=["HS256"],
            issuer=_ISSUER,
            # Expiry is checked below against core.clock rather than the wall clock,
            # so that time-driven tests and the server agree on "now".
            options={"require": ["exp", "sub", "iat"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated(str(exc)) from exc
    if claims.get("typ") != "access":
        raise Unauthenticated("not an access token")
    if claims["exp"] <= utcnow().timestamp():
        raise Unauthenticated("expired")
    try:
        return int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise Unauthenticated("bad subject") from exc
