"""Value objects of the scoring core: bands, medals, score lines and a contact's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from connector.config import Bands, ContactKind


class Band(StrEnum):
    """Lead-score category, coldest first."""

    COLD = "cold"
    LUKEWARM = "lukewarm"
    WARM = "warm"
    HOT = "hot"

    @classmethod
    def of(cls, score: int, bounds: Bands) -> Band:
        """The band a score falls in, by lower bounds."""
        if score >= bounds.hot:
            return cls.HOT
        if score >= bounds.warm:
            return cls.WARM
        if score >= bounds.lukewarm:
            return cls.LUKEWARM
        return cls.COLD


BAND_ORDER = (Band.HOT, Band.WARM, Band.LUKEWARM, Band.COLD)


class Medal(StrEnum):
    """Application-process medal; only ever upgraded."""

    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"

    @property
    def rank(self) -> int:
        """1 for bronze, 2 for silver, 3 for gold."""
        return _MEDAL_RANK[self]


_MEDAL_RANK = {Medal.BRONZE: 1, Medal.SILVER: 2, Medal.GOLD: 3}


def higher_medal(a: Medal | None, b: Medal | None) -> Medal | None:
    """The higher of two medals (None is below bronze)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if a.rank >= b.rank else b


@dataclass(frozen=True, slots=True)
class LineEvent:
    """One event behind a score line, and what it contributes now."""

    event_id: str
    at: datetime
    points: int
    status: str  # "counted", "expired" or "repeat" (suppressed by once_per)
    expires_on: date | None


@dataclass(frozen=True, slots=True)
class Line:
    """One rule's (or one inactivity penalty's) contribution to a contact's score."""

    name: str
    points: int
    kind: str = "rule"  # "rule" or "inactivity"
    capped: bool = False
    expires_on: date | None = None
    events: tuple[LineEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class RecruitmentDetails:
    """The fields written to the contact: empty (all None) until a point or a medal is earned."""

    score: int | None = None
    band: Band | None = None
    medal: Medal | None = None
    first_qualified_on: date | None = None
    first_placed_on: date | None = None

    @property
    def is_empty(self) -> bool:
        """True when nothing would be written for the contact."""
        return self == EMPTY_DETAILS


EMPTY_DETAILS = RecruitmentDetails()


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
            key = line.name if line.kind == "rule" else "inactivity"
            totals[key] = totals.get(key, 0) + line.points
        return totals
