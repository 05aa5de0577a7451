"""Accounts: sign-in, rotating refresh tokens, invitations, viewer, export and closing."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import keys
from core.clock import utcnow
from core.crypto import (
    DUMMY_PASSWORD_HASH,
    hash_password,
    mask_phone,
    new_token,
    normalize_email,
    normalize_phone,
    token_digest,
    verify_password,
)
from core.errors import Forbidden, Invalid, NotFound, RateLimited
from core.i18n import normalize_locale
from core.principal import Principal, Role
from domain.accounts import repository as repo
from domain.accounts.errors import BadCredentials, BadRefreshToken, InviteInvalid, PhoneTaken
from domain.accounts.models import (
    Community,
    Invitation,
    LoginThrottle,
    Membership,
    Ownership,
    RefreshToken,
    Tenancy,
    Unit,
    User,
)
from domain.audit import service as audit

_PHONE = re.compile(r"^(1[3-9]\d{9}|\+[1-9]\d{7,14})$")
_INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


@dataclass(frozen=True)
class AuthPolicy:
    max_failures: int = 5
    lockout_seconds: int = 900
    refresh_ttl_days: int = 30
    min_password_length: int = 10


@dataclass
class AuthResult:
    user: User
    access_token: str
    refresh_token: str


@dataclass
class MembershipView:
    community: Community
    roles: list[Role]
    units: list[Unit] = field(default_factory=list)


def phone_of(user: User) -> str | None:
    return keys.cipher().decrypt(user.phone_enc) if user.phone_enc else None


def masked_phone(user: User) -> str | None:
    phone = phone_of(user)
    return mask_phone(phone) if phone else None


def login_index(login: str) -> str:
    login = login.strip()
    normalized = normalize_email(login) if "@" in login else normalize_phone(login)
    return keys.cipher().blind_index(normalized)


async def create_user(
    session: AsyncSession,
    *,
    display_name: str,
    password: str,
    email: str | None = None,
    phone: str | None = None,
    locale: str = "zh-CN",
) -> User:
    cipher = keys.cipher()
    user = User(
        display_name=display_name,
        password_hash=hash_password(password),
        locale=normalize_locale(locale),
    )
    if email:
        user.email_enc = cipher.encrypt(normalize_email(email))
        user.email_bidx = cipher.blind_index(normalize_email(email))
    if phone:
        user.phone_enc = cipher.encrypt(normalize_phone(phone))
        user.phone_bidx = cipher.blind_index(normalize_phone(phone))
    session.add(user)
    await session.flush()
    return user


async def _issue_tokens(
    session: AsyncSession, user: User, policy: AuthPolicy, family_id: str | None = None
) -> AuthResult:
    assert user.id is not None
    refresh = new_token(32)
    now = utcnow()
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or str(uuid.uuid4()),
            token_hash=token_digest(refresh),
            created_at=now,
            expires_at=now + timedelta(days=policy.refresh_ttl_days),
        )
    )
    await session.flush()
    return AuthResult(user, keys.issue_access_token(user.id), refresh)


class _SignInFailed(BadCredentials):
    keep_changes = True


class _Locked(RateLimited):
    keep_changes = True


async def sign_in(
    session: AsyncSession, *, login: str, password: str, policy: AuthPolicy = AuthPolicy()
) -> AuthResult:
    login = (login or "").strip()
    if not login or len(login) > 254 or len(password) > 1024:
        raise BadCredentials(field=["input", "login"])
    key = login_index(login)
    now = utcnow()
    throttle = await session.get(LoginThrottle, key, with_for_update=True)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        minutes = max(1, int((throttle.locked_until - now).total_seconds() // 60) + 1)
        raise RateLimited(minutes=minutes)

    column = User.email_bidx if "@" in login else User.phone_bidx
    user = await session.scalar(select(User).where(column == key))
    # Verify against a dummy hash for unknown logins so timing reveals nothing.
    ok = verify_password(user.password_hash if user else DUMMY_PASSWORD_HASH, password)
    if not ok or user is None or user.closed_at is not None:
        window = timedelta(seconds=policy.lockout_seconds)
        if throttle is None:
            throttle = LoginThrottle(key=key, failures=0, window_started_at=now)
            session.add(throttle)
        elif throttle.window_started_at + window < now:
            throttle.failures, throttle.window_started_at = 0, now
        throttle.failures += 1
        if throttle.failures >= policy.max_failures:
            throttle.locked_until = now + window
            throttle.failures = 0
            throttle.window_started_at = now
            audit.record(session, None, "auth.locked", target=f"login:{key[:12]}")
            raise _Locked(minutes=policy.lockout_seconds // 60)
        raise _SignInFailed(field=["input", "password"])
    if throttle is not None:
        await session.delete(throttle)
    return await _issue_tokens(session, user, policy)


async def refresh_session(
    session: AsyncSession, *, refresh_token: str, policy: AuthPolicy = AuthPolicy()
) -> AuthResult:
    if not refresh_token or len(refresh_token) > 200:
        raise BadRefreshToken(field=["input", "refreshToken"])
    now = utcnow()
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_digest(refresh_token))
    )
    if row is None:
        raise BadRefreshToken(field=["input", "refreshToken"])
    if row.revoked_at is not None or row.expires_at <= now:
        raise BadRefreshToken(field=["input", "refreshToken"])
    # Claim the token atomically: of two concurrent uses, exactly one rotates it.
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))  # type: ignore[union-attr]
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        # A used token came back: it was stolen or replayed. Revoke the whole family.
        await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.family_id == row.family_id,
                RefreshToken.revoked_at.is_(None),  # type: ignore[union-attr]
            )
            .values(revoked_at=now)
        )
        audit.record(session, None, "auth.refresh_reuse", target=f"user:{row.user_id}")
        raise _RefreshReused(field=["input", "refreshToken"])
    user = await session.get(User, row.user_id)
    if user is None or user.closed_at is not None:
        raise BadRefreshToken(field=["input", "refreshToken"])
    return await _issue_tokens(session, user, policy, family_id=row.family_id)


class _RefreshReused(BadRefreshToken):
    keep_changes = True


async def sign_out(session: AsyncSession, principal: Principal, *, refresh_token: str) -> None:
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_digest(refresh_token))
    )
    if row is None or row.user_id != principal.user_id:
        return
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))  # type: ignore[union-attr]
        .values(revoked_at=utcnow())
    )


def _new_invite_code() -> str:
    raw = "".join(secrets.choice(_INVITE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _normalize_invite_code(code: str) -> str:
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else raw


async def create_invitation(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    role: Role,
    relation: str | None = None,
    unit_ids: list[int] | None = None,
    ttl_days: int = 14,
) -> tuple[Invitation, str]:
    """Staff issue invitations; only a manager may invite staff or managers."""
    if not principal.is_staff(community_id):
        raise Forbidden()
    if role in (Role.STAFF, Role.MANAGER) and not principal.has_role(community_id, Role.MANAGER):
        raise Forbidden()
    unit_ids = sorted(set(unit_ids or []))
    if role == Role.RESIDENT and (not unit_ids or relation not in ("OWNER", "TENANT")):
        raise Invalid("accounts.role_needs_units", field=["input", "unitIds"])
    if unit_ids:
        found = await session.scalars(
            select(Unit.id).where(Unit.id.in_(unit_ids), Unit.community_id == community_id)  # type: ignore[union-attr]
        )
        if len(set(found)) != len(unit_ids):
            raise Invalid("accounts.units_invalid", field=["input", "unitIds"])
    code = _new_invite_code()
    invitation = Invitation(
        community_id=community_id,
        role=role.value,
        relation=relation if role == Role.RESIDENT else None,
        unit_ids=unit_ids,
        code_hash=token_digest(code),
        created_by=principal.user_id,
        expires_at=utcnow() + timedelta(days=ttl_days),
    )
    session.add(invitation)
    await session.flush()
    audit.record(
        session,
        principal,
        "invite.create",
        community_id=community_id,
        target=f"invitation:{invitation.id}",
        role=role.value,
        units=unit_ids,
    )
    return invitation, code


async def redeem_invite(
    session: AsyncSession,
    principal: Principal,
    *,
    code: str,
    display_name: str,
    phone: str,
    password: str,
    locale: str | None = None,
    policy: AuthPolicy = AuthPolicy(),
) -> AuthResult:
    display_name = (display_name or "").strip()
    if not 1 <= len(display_name) <= 50:
        raise Invalid("accounts.display_name", field=["input", "displayName"])
    phone_n = normalize_phone(phone or "")
    if not _PHONE.match(phone_n):
        raise Invalid("accounts.phone_invalid", field=["input", "phone"])
    if len(password) < policy.min_password_length or len(password) > 1024:
        raise Invalid("accounts.password_weak", field=["input", "password"])
    now = utcnow()
    invitation = await session.scalar(
        select(Invitation).where(Invitation.code_hash == token_digest(_normalize_invite_code(code)))
    )
    if invitation is None or invitation.redeemed_at is not None or invitation.expires_at <= now:
        raise InviteInvalid(field=["input", "code"])

    existing = await session.scalar(
        select(User).where(User.phone_bidx == keys.cipher().blind_index(phone_n))
    )
    if existing is not None:
        # A known phone joins with the existing account, proven by its password.
        if existing.closed_at is not None or not verify_password(existing.password_hash, password):
            raise PhoneTaken(field=["input", "phone"])
        user = existing
    else:
        user = await create_user(
            session,
            display_name=display_name,
            phone=phone_n,
            password=password,
            locale=locale or "zh-CN",
        )
    assert user.id is not None and invitation.id is not None
    # Claim atomically: two concurrent redemptions of one code cannot both succeed.
    claimed = await session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.redeemed_at.is_(None))  # type: ignore[union-attr]
        .values(redeemed_at=now, redeemed_by=user.id)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InviteInvalid(field=["input", "code"])
    await grant_role(session, user.id, invitation.community_id, Role(invitation.role))
    for unit_id in invitation.unit_ids:
        if invitation.relation == "OWNER":
            await _ensure(session, Ownership, unit_id=unit_id, user_id=user.id)
        elif invitation.relation == "TENANT":
            await _ensure(session, Tenancy, unit_id=unit_id, user_id=user.id)
    audit.record(
        session,
        Principal(user_id=user.id),
        "invite.redeem",
        community_id=invitation.community_id,
        target=f"invitation:{invitation.id}",
    )
    return await _issue_tokens(session, user, policy)


async def _ensure(session: AsyncSession, model: Any, **values: Any) -> None:
    stmt = select(model)
    for k, v in values.items():
        stmt = stmt.where(getattr(model, k) == v)
    if await session.scalar(stmt) is None:
        session.add(model(**values))
        await session.flush()


async def grant_role(session: AsyncSession, user_id: int, community_id: int, role: Role) -> None:
    await _ensure(session, Membership, user_id=user_id, community_id=community_id, role=role.value)


async def viewer(session: AsyncSession, principal: Principal) -> tuple[User, list[MembershipView]]:
    if principal.user_id is None:
        raise Forbidden()
    user = await session.get(User, principal.user_id)
    if user is None:
        raise NotFound()
    communities = await repo.communities_by_ids(session, principal, principal.community_ids)
    units = await repo.units_of_user(session, principal.user_id)
    views = []
    for cid in sorted(communities):
        views.append(
            MembershipView(
                community=communities[cid],
                roles=sorted(principal.roles[cid]),
                units=[u for u in units if u.community_id == cid],
            )
        )
    return user, views


async def export_my_data(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """Everything we hold about the caller, decrypted, as one JSON document."""
    user, memberships = await viewer(session, principal)
    email = keys.cipher().decrypt(user.email_enc) if user.email_enc else None
    return {
        "user": {
            "id": user.id,
            "displayName": user.display_name,
            "email": email,
            "phone": phone_of(user),
            "locale": user.locale,
            "createdAt": user.created_at.isoformat(),
        },
        "memberships": [
            {
                "community": m.community.name,
                "roles": [r.value for r in m.roles],
                "units": [u.label for u in m.units],
            }
            for m in memberships
        ],
    }


async def close_account(session: AsyncSession, principal: Principal, *, password: str) -> None:
    """Closing erases contact data and credentials; records others rely on (ballots,
    ledger postings, audit) keep the user id with the name replaced."""
    if principal.user_id is None:
        raise Forbidden()
    user = await session.get(User, principal.user_id, with_for_update=True)
    if user is None or user.closed_at is not None:
        raise NotFound()
    if not verify_password(user.password_hash, password):
        raise BadCredentials(field=["input", "password"])
    now = utcnow()
    user.closed_at = now
    user.display_name = "已注销用户"
    user.email_enc = user.email_bidx = user.phone_enc = user.phone_bidx = None
    user.password_hash = DUMMY_PASSWORD_HASH
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))  # type: ignore[union-attr]
        .values(revoked_at=now)
    )
    audit.record(session, principal, "account.close", target=f"user:{user.id}")
