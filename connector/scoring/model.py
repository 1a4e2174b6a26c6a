"""Value objects of the scoring core: score lines and a contact's state (details live in the kernel)."""

from __future__ import annotations

from collections.abc import Iterable
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


EXPLANATION_LIMIT = 255  # a Text(255) field on the Contact
_SEPARATOR = " · "


def explanation(lines: Iterable[Line]) -> str | None:
    """The short "why" the Contact shows: the rules' points (largest first, with the date they next
    lapse), then all penalties as one `Inactivity` part; rules that do not fit in 255 characters are
    summed up as "+N more"."""
    lines = list(lines)
    rules = sorted(
        (line for line in lines if line.kind is LineKind.RULE and line.points), key=lambda x: -x.points
    )
    parts = [
        f"{line.name.replace('_', ' ').capitalize()} {_signed(line.points)}"
        + (f" until {line.expires_on.isoformat()}" if line.expires_on else "")
        for line in rules
    ]
    penalty = sum(line.points for line in lines if line.kind is LineKind.INACTIVITY)
    tail = [f"Inactivity {_signed(penalty)}"] if penalty else []
    kept = len(parts)
    while kept and len(_SEPARATOR.join(parts[:kept] + _more(len(parts) - kept) + tail)) > EXPLANATION_LIMIT:
        kept -= 1
    text = _SEPARATOR.join(parts[:kept] + _more(len(parts) - kept) + tail)
    return text[:EXPLANATION_LIMIT] or None


def _more(dropped: int) -> list[str]:
    return [f"+{dropped} more"] if dropped else []


def _signed(points: int) -> str:
    return f"\u2212{-points}" if points < 0 else str(points)
