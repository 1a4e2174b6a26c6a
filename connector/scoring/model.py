"""Value objects of the scoring core: score lines and a contact's state (details live in the kernel)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from connector.details import ContactKind, RecruitmentDetails


class EventStatus(StrEnum):
    """What an event behind a score line contributes now."""

    COUNTED = "counted"
    EXPIRED = "expired"  # past the rule's valid_days
    REPEAT = "repeat"  # suppressed by once_per


FLOOR_LINE = "floor"  # the name of the line that lifts a total below `[scoring] floor` back to it


class LineKind(StrEnum):
    """Where a score line comes from."""

    RULE = "rule"
    INACTIVITY = "inactivity"  # a daily-pass penalty, or the floor's lift of them (FLOOR_LINE)


@dataclass(frozen=True, slots=True)
class LineEvent:
    """One event behind a score line, and what it contributes now."""

    event_id: str
    at: datetime
    points: int
    status: EventStatus
    expires_on: date | None


@dataclass(frozen=True, slots=True)
class Line:
    """One rule's (or one inactivity penalty's) contribution to a contact's score."""

    name: str
    points: int
    kind: LineKind = LineKind.RULE
    capped: bool = False
    expires_on: date | None = None
    events: tuple[LineEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class ContactState:
    """What the rules say about one contact at `now`."""

    contact_id: str
    kind: ContactKind
    details: RecruitmentDetails
    last_activity_on: date | None = None
    lines: tuple[Line, ...] = field(default=(), compare=False)

    def rule_points(self) -> dict[str, int]:
        """Points per rule now; all inactivity penalties add up under the name `inactivity`."""
        totals: dict[str, int] = {}
        for line in self.lines:
            key = line.name if line.kind is LineKind.RULE else LineKind.INACTIVITY.value
            totals[key] = totals.get(key, 0) + line.points
        return totals
