"""A contact's recruitment details in the one form they take everywhere: scored, stored, shown by the org.

Also the picklist codec between our names and the org's labels (both directions), and `RecordWrite`,
the currency going out: one record the connector wants the org to hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar


class ContactKind(StrEnum):
    """Which kind of Contact this is (record type in MSR); rules may apply to one kind only."""

    CANDIDATE = "candidate"
    CONTACT_PERSON = "contact_person"


class ErasureReason(StrEnum):
    """Why a contact was erased: deleted in the org, anonymised there, on an admin's request, or merged
    into another contact (its history lives on under the survivor)."""

    DELETED = "deleted"
    ANONYMISED = "anonymised"
    MANUAL = "manual"
    MERGED = "merged"


class BandBounds(Protocol):
    """Lower bounds of the warmer bands (the `[scoring.bands]` table)."""

    @property
    def lukewarm(self) -> int: ...
    @property
    def warm(self) -> int: ...
    @property
    def hot(self) -> int: ...


class Band(StrEnum):
    """Lead-score category, coldest first."""

    COLD = "cold"
    LUKEWARM = "lukewarm"
    WARM = "warm"
    HOT = "hot"

    @classmethod
    def of(cls, score: int, bounds: BandBounds) -> Band:
        """The band a score falls in, by lower bounds."""
        if score >= bounds.hot:
            return cls.HOT
        if score >= bounds.warm:
            return cls.WARM
        if score >= bounds.lukewarm:
            return cls.LUKEWARM
        return cls.COLD


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
class RecruitmentDetails:
    """The fields written to the contact: empty (all None, not heating up) until a point or a medal is
    earned.

    `heating_up`: the band is warmer than it was 7 days ago (a checkbox a list view filters on, so
    never None);
    `last_engaged_on` / `last_engaged_by`: the local date and the rule of the latest event that earned
    points (the activity the inactivity penalty counts from); `explanation`: the short "why" of the
    score (at most 255 characters).
    """

    score: int | None = None
    band: Band | None = None
    medal: Medal | None = None
    first_qualified_on: date | None = None
    first_placed_on: date | None = None
    heating_up: bool = False
    last_engaged_on: date | None = None
    last_engaged_by: str | None = None
    explanation: str | None = None

    @property
    def is_empty(self) -> bool:
        """True when nothing would be written for the contact."""
        return self == EMPTY_DETAILS


EMPTY_DETAILS = RecruitmentDetails()
DETAIL_NAMES = (
    "score",
    "band",
    "medal",
    "first_qualified_on",
    "first_placed_on",
    "heating_up",
    "last_engaged_on",
    "last_engaged_by",
    "explanation",
)


def keep_monotone(new: RecruitmentDetails, *earlier: RecruitmentDetails | None) -> RecruitmentDetails:
    """`new`, but never a lower medal nor a moved first date than any of `earlier` (stored, org-shown).

    The one place the promise "a medal is never lost, the dates are set once" is kept.
    """
    merged = new
    for previous in earlier:
        if previous is None or previous.is_empty:
            continue
        merged = replace(
            merged,
            medal=higher_medal(previous.medal, merged.medal),
            first_qualified_on=previous.first_qualified_on or merged.first_qualified_on,
            first_placed_on=previous.first_placed_on or merged.first_placed_on,
        )
    return new if merged == new else merged


@dataclass(frozen=True, slots=True)
class LineFacts:
    """One score line as the org shows it: points, and what explains them.

    `events` counts the events that give the points now, `last_event_on` is the local day of the latest
    of them and `lapses_on` the first day some of the points stop counting (None: none lapse). The
    inactivity line has points only. A line stored by a version before these facts loads with them
    None, which is also what the org holds of fields nobody wrote: the next plan writes them once.
    """

    points: int
    events: int | None = None
    last_event_on: date | None = None
    lapses_on: date | None = None


@dataclass(frozen=True, slots=True)
class StoredState:
    """A contact's state as the ledger keeps it: details, last activity and its score line per rule."""

    contact_id: str
    kind: ContactKind
    details: RecruitmentDetails
    last_activity_on: date | None = None
    lines: Mapping[str, LineFacts] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ShownDetails:
    """What the org shows for a contact: read from it, or confirmed by a write it accepted.

    `lines` are the contact's score-line records (per rule) as the org holds them.
    """

    contact_id: str
    details: RecruitmentDetails = EMPTY_DETAILS
    lines: Mapping[str, LineFacts] = field(default_factory=dict)


E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class Picklist(Generic[E]):
    """Our value names ↔ the org's picklist labels (`[salesforce.objects.contact] band_values`)."""

    enum: type[E]
    labels: Mapping[str, str]

    def to_org(self, value: E | None) -> str | None:
        """The org's label for one of our values (None stays None: the field is cleared)."""
        return None if value is None else self.labels[value.value]

    def from_org(self, label: object) -> E | None:
        """Our value for an org label; None for an empty field; ValueError for an unknown label."""
        if label in (None, ""):
            return None
        for ours, theirs in self.labels.items():
            if theirs == label:
                return self.enum(ours)
        raise ValueError(f"unknown {self.enum.__name__.lower()} label {label!r}")


@dataclass(frozen=True)
class RecordWrite:
    """One record to write: its object, key (`Id` or an external-id field) and absolute field values."""

    object: str
    key_field: str
    key_value: str
    values: Mapping[str, Any] = field(default_factory=dict, hash=False)
    parent: str = ""  # the parent record (e.g. the contact) whose lock a child write contends for
