"""Value objects of the scoring core: score lines and a contact's state (details live in the kernel)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from connector.details import ContactKind, LineFacts, RecruitmentDetails


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
    expires_on: date | None = None  # the first day some of its points stop counting
    events: tuple[LineEvent, ...] = ()  # with `explain` only
    counted: int = 0  # events that give the points now (a rule's line)
    last_counted_on: date | None = None  # the local day of the latest of them


@dataclass(frozen=True, slots=True)
class ContactState:
    """What the rules say about one contact at `now`."""

    contact_id: str
    kind: ContactKind
    details: RecruitmentDetails
    last_activity_on: date | None = None
    lines: tuple[Line, ...] = field(default=(), compare=False)

    def line_facts(self) -> dict[str, LineFacts]:
        """The score line per rule now; all inactivity penalties (and the floor) add up to one
        `inactivity` line of points only: no event counts there, and a lapse may not lower it."""
        facts: dict[str, LineFacts] = {}
        penalty: int | None = None
        for line in self.lines:
            if line.kind is LineKind.RULE:
                facts[line.name] = LineFacts(line.points, line.counted, line.last_counted_on, line.expires_on)
            else:
                penalty = (penalty or 0) + line.points
        if penalty is not None:
            facts[LineKind.INACTIVITY.value] = LineFacts(penalty)
        return facts


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
