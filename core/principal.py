"""Who is asking: the authenticated user and their roles per community."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    RESIDENT = "RESIDENT"
    CAREGIVER = "CAREGIVER"
    MERCHANT = "MERCHANT"
    STAFF = "STAFF"
    MANAGER = "MANAGER"


STAFF_ROLES = frozenset({Role.STAFF, Role.MANAGER})


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int | None = None
    roles: Mapping[int, frozenset[Role]] = field(default_factory=dict)
    locale: str = "zh-CN"

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    @property
    def community_ids(self) -> frozenset[int]:
        return frozenset(self.roles)

    def in_community(self, community_id: int) -> bool:
        return community_id in self.roles

    def has_role(self, community_id: int, *roles: Role) -> bool:
        held = self.roles.get(community_id)
        return held is not None and any(r in held for r in roles)

    def is_staff(self, community_id: int) -> bool:
        return self.has_role(community_id, *STAFF_ROLES)

    def communities_with(self, *roles: Role) -> frozenset[int]:
        return frozenset(c for c, held in self.roles.items() if any(r in held for r in roles))

    @classmethod
    def build(cls, user_id: int, memberships: Iterable[tuple[int, str]], locale: str) -> Principal:
        by_community: dict[int, set[Role]] = {}
        for community_id, role in memberships:
            by_community.setdefault(community_id, set()).add(Role(role))
        return cls(
            user_id=user_id,
            roles={c: frozenset(r) for c, r in by_community.items()},
            locale=locale,
        )


ANONYMOUS = Principal()
