"""Elder care types: elders, check-in plans, check-ins, caregiver links, visits."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from core.ids import encode_gid
from domain.care import models as m
from schema.accounts import Unit, User
from schema.base import Node, UserError

Info = strawberry.Info


@strawberry.enum
class ElderStatus(enum.Enum):
    OK = "OK"
    DUE = "DUE"
    MISSED = "MISSED"
    HELP_REQUESTED = "HELP_REQUESTED"


@strawberry.enum
class CheckInKind(enum.Enum):
    OK = "OK"
    NEED_HELP = "NEED_HELP"


@strawberry.enum
class CaregiverLinkStatus(enum.Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    REMOVED = "REMOVED"


@strawberry.enum
class Wellbeing(enum.Enum):
    WELL = "WELL"
    CONCERN = "CONCERN"
    URGENT = "URGENT"


@strawberry.enum
class VisitCadence(enum.Enum):
    WEEKLY = 7
    BIWEEKLY = 14
    MONTHLY = 30


@strawberry.type
class CheckInWindow:
    start: str
    end: str


@strawberry.type
class CheckInPlan:
    windows: list[CheckInWindow]
    grace_minutes: int
    ack_timeout_minutes: list[int] = strawberry.field(
        description="Minutes to wait for an acknowledgement at each escalation level; "
        "the last value applies to the levels after it."
    )
    paused_until: datetime | None
    pause_reason: str | None
    next_due_at: datetime | None = strawberry.field(
        description="When the next window is judged (its end plus grace)."
    )
    _elder_id: strawberry.Private[int]

    @strawberry.field(
        description="Who is called on, in order, when a check-in is missed; the on-duty "
        "property staff come after them."
    )
    async def escalation(self, info: Info) -> list[User]:
        ids = await info.context.loaders.care_chain.load(self._elder_id)
        users = await info.context.loaders.user.load_many(ids)
        return [u for u in users if u is not None]

    @classmethod
    def from_row(cls, row: m.CheckInPlan) -> CheckInPlan:
        return cls(
            windows=[CheckInWindow(start=w["start"], end=w["end"]) for w in row.windows],
            grace_minutes=row.grace_minutes,
            ack_timeout_minutes=list(row.ack_timeout_minutes),
            paused_until=row.paused_until,
            pause_reason=row.pause_reason,
            next_due_at=row.next_due_at,
            _elder_id=row.elder_id,
        )


@strawberry.type
class Elder(Node):
    display_name: str
    last_check_in_at: datetime | None
    visit_cadence_days: int | None
    last_visit_at: datetime | None
    next_visit_due_at: datetime | None
    _pk: strawberry.Private[int]
    _unit_id: strawberry.Private[int]
    _user_id: strawberry.Private[int]
    _community_id: strawberry.Private[int]

    @strawberry.field
    async def unit(self, info: Info) -> Unit:
        return await info.context.loaders.unit.load(self._unit_id)

    @strawberry.field
    async def status(self, info: Info) -> ElderStatus:
        return ElderStatus(await info.context.loaders.elder_status.load(self._pk))

    @strawberry.field
    async def plan(self, info: Info) -> CheckInPlan | None:
        return await info.context.loaders.care_plan.load(self._pk)

    @strawberry.field(
        description="Caregivers and invitations, in escalation order: for the elder and "
        "the property staff (empty for others)."
    )
    async def caregivers(self, info: Info) -> list[CaregiverLink]:
        return await info.context.loaders.care_links.load(self._pk)

    @strawberry.field(description="Recent periodic visits (定期寻访), newest first.")
    async def visits(self, info: Info, first: int = 10) -> list[Visit]:
        return await info.context.loaders.elder_visits.load((self._pk, min(max(first, 0), 50)))

    @classmethod
    def from_row(cls, row: m.Elder, display_name: str) -> Elder:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Elder", row.id)),
            display_name=display_name,
            last_check_in_at=row.last_check_in_at,
            visit_cadence_days=row.visit_cadence_days,
            last_visit_at=row.last_visit_at,
            next_visit_due_at=row.next_visit_due_at,
            _pk=row.id,
            _unit_id=row.unit_id,
            _user_id=row.user_id,
            _community_id=row.community_id,
        )


@strawberry.type
class CaregiverLink(Node):
    position: int
    status: CaregiverLinkStatus
    invited_at: datetime
    consented_at: datetime | None
    _elder_id: strawberry.Private[int]
    _caregiver_id: strawberry.Private[int]

    @strawberry.field
    async def caregiver(self, info: Info) -> User | None:
        return await info.context.loaders.user.load(self._caregiver_id)

    @strawberry.field
    async def elder(self, info: Info) -> Elder | None:
        return await info.context.loaders.elder.load(self._elder_id)

    @classmethod
    def from_row(cls, row: m.CaregiverLink) -> CaregiverLink:
        assert row.id is not None
        status = (
            CaregiverLinkStatus.REMOVED
            if row.removed_at is not None
            else CaregiverLinkStatus.ACTIVE
            if row.consented_at is not None
            else CaregiverLinkStatus.PENDING
        )
        return cls(
            id=strawberry.ID(encode_gid("CaregiverLink", row.id)),
            position=row.position,
            status=status,
            invited_at=row.invited_at,
            consented_at=row.consented_at,
            _elder_id=row.elder_id,
            _caregiver_id=row.caregiver_user_id,
        )


@strawberry.type
class CheckIn(Node):
    kind: CheckInKind
    at: datetime
    note: str | None
    on_behalf: bool = strawberry.field(description="Made by a caregiver for the elder.")
    _elder_id: strawberry.Private[int]
    _by_user_id: strawberry.Private[int]

    @strawberry.field
    async def elder(self, info: Info) -> Elder:
        return await info.context.loaders.elder.load(self._elder_id)

    @strawberry.field
    async def by(self, info: Info) -> User | None:
        return await info.context.loaders.user.load(self._by_user_id)

    @classmethod
    def from_row(cls, row: m.CheckIn) -> CheckIn:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("CheckIn", row.id)),
            kind=CheckInKind(row.kind),
            at=row.at,
            note=row.note,
            on_behalf=row.on_behalf,
            _elder_id=row.elder_id,
            _by_user_id=row.by_user_id,
        )


@strawberry.type
class Visit(Node):
    visited_at: datetime
    notes: str | None
    wellbeing: Wellbeing
    _elder_id: strawberry.Private[int]
    _visitor_id: strawberry.Private[int]

    @strawberry.field
    async def visitor(self, info: Info) -> User | None:
        return await info.context.loaders.user.load(self._visitor_id)

    @strawberry.field
    async def elder(self, info: Info) -> Elder | None:
        return await info.context.loaders.elder.load(self._elder_id)

    @classmethod
    def from_row(cls, row: m.Visit) -> Visit:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Visit", row.id)),
            visited_at=row.visited_at,
            notes=row.notes,
            wellbeing=Wellbeing(row.wellbeing),
            _elder_id=row.elder_id,
            _visitor_id=row.visitor_user_id,
        )


# ---------------------------------------------------------------- inputs and payloads
@strawberry.input
class CheckInInput:
    kind: CheckInKind
    note: str | None = None
    elder_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only for a caregiver checking in on the elder's behalf."
    )


@strawberry.type
class CheckInPayload:
    check_in: CheckIn | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CheckInWindowInput:
    start: str
    end: str


@strawberry.input
class SetCheckInPlanInput:
    elder_id: strawberry.ID
    windows: list[CheckInWindowInput]
    grace_minutes: int
    escalation_user_ids: list[strawberry.ID] = strawberry.field(
        description="Caregivers and staff, in the order they are called on."
    )
    ack_timeout_minutes: list[int] | None = strawberry.field(
        default=None,
        description="Minutes to wait for an acknowledgement per level (default 15); "
        "the last value repeats.",
    )


@strawberry.type
class CheckInPlanPayload:
    plan: CheckInPlan | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class PauseCheckInPlanInput:
    elder_id: strawberry.ID
    until: datetime | None = strawberry.field(
        default=None, description="At most 30 days ahead; null resumes the plan now."
    )
    reason: str | None = None


@strawberry.input
class RegisterElderInput:
    user_id: strawberry.ID
    unit_id: strawberry.ID


@strawberry.type
class ElderPayload:
    elder: Elder | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class InviteCaregiverInput:
    elder_id: strawberry.ID
    caregiver_user_id: strawberry.ID


@strawberry.input
class CaregiverLinkInput:
    link_id: strawberry.ID


@strawberry.type
class CaregiverLinkPayload:
    link: CaregiverLink | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SetVisitCadenceInput:
    elder_id: strawberry.ID
    cadence: VisitCadence | None = strawberry.field(
        default=None, description="Null stops periodic visits."
    )


@strawberry.input
class LogVisitInput:
    elder_id: strawberry.ID
    wellbeing: Wellbeing
    visited_at: datetime | None = strawberry.field(default=None, description="Default: now.")
    visitor_id: strawberry.ID | None = strawberry.field(
        default=None, description="The staff member who visited; default: the viewer."
    )
    notes: str | None = None


@strawberry.type
class VisitPayload:
    visit: Visit | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
