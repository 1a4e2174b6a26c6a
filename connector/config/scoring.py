"""The `[scoring]` and `[medals]` tables: rules, bands, inactivity decay, medal steps."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.details import ContactKind


class Strict(BaseModel):
    """Base for config tables: unknown keys are an error, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveInt = Annotated[int, Field(gt=0)]
WhereValue = str | int | bool | list[str | int | bool]


class Rule(Strict):
    """One lead-score rule: which events it matches and what they are worth."""

    name: Annotated[str, Field(min_length=1)]
    event: Annotated[str, Field(min_length=1)]
    where: dict[str, WhereValue] = Field(default_factory=dict)
    points: int
    valid_days: PositiveInt | None = None
    once_per: Literal["event", "day", "ever", "application"] = "event"
    max_points: PositiveInt | None = None
    applies_to: tuple[ContactKind, ...] = (ContactKind.CANDIDATE, ContactKind.CONTACT_PERSON)

    @field_validator("applies_to")
    @classmethod
    def _not_empty(cls, value: tuple[ContactKind, ...]) -> tuple[ContactKind, ...]:
        if not value:
            raise ValueError("must name at least one contact kind")
        return value


class Bands(Strict):
    """Lower bounds of the bands; below `lukewarm` is cold. MSR defaults."""

    lukewarm: int = 25
    warm: int = 50
    hot: int = 75

    @model_validator(mode="after")
    def _increasing(self) -> Bands:
        if not self.lukewarm < self.warm < self.hot:
            raise ValueError(
                f"band bounds must increase: lukewarm ({self.lukewarm}) < warm ({self.warm})"
                f" < hot ({self.hot})"
            )
        return self


class Inactivity(Strict):
    """Negative points for a contact without scoring activity."""

    after_days: PositiveInt = 14
    points: Annotated[int, Field(lt=0)] = -5
    every_days: PositiveInt = 7
    valid_days: PositiveInt = 30


class Scoring(Strict):
    """The `[scoring]` table."""

    timezone: str = "Europe/Amsterdam"
    floor: int = 0
    bands: Bands = Field(default_factory=Bands)
    rules: tuple[Rule, ...] = ()
    inactivity: Inactivity | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Amsterdam)"
            ) from None
        return value

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        names = [r.name for r in rules]
        dupes = sorted({name for name in names if names.count(name) > 1})
        if dupes:
            raise ValueError(f"duplicate rule names: {', '.join(dupes)}")
        return rules

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone as a tzinfo."""
        return ZoneInfo(self.timezone)


class Medals(Strict):
    """Application steps that earn each medal; the highest earned is kept forever."""

    bronze: tuple[str, ...] = ("Intake verwerkt",)
    silver: tuple[str, ...] = ("Voorgesteld",)
    gold: tuple[str, ...] = ("Aangenomen",)
    first_qualification: Literal["first_medal", "first_points"] = "first_medal"

    @model_validator(mode="after")
    def _no_overlap(self) -> Medals:
        tiers = {"bronze": self.bronze, "silver": self.silver, "gold": self.gold}
        owner: dict[str, str] = {}
        clashes: list[str] = []
        for tier, steps in tiers.items():
            for step in steps:
                if step in owner:
                    clashes.append(f"{step!r} is in both {owner[step]} and {tier}")
                owner[step] = tier
        if clashes:
            raise ValueError("medal steps must not overlap: " + "; ".join(clashes))
        return self
