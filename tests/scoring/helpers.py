"""Literal events and rules for scoring tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connector.config import Inactivity, Medals, Rule, Scoring
from connector.events import Event, make_event
from connector.scoring import ContactState, Rulebook

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def at(day: str, time: str = "10:00") -> datetime:
    """A UTC instant on a calendar day in 2026, e.g. at("03-02")."""
    return datetime.fromisoformat(f"2026-{day}T{time}:00+00:00")


def ev(event_kind: str, when: datetime, contact: str = "003C1", /, **attrs: Any) -> Event:
    """An event with a derived id."""
    return make_event(contact, event_kind, when, attrs)


def step(name: str, when: datetime, contact: str = "003C1", app: str = "a0C1") -> Event:
    """An application.step event."""
    return ev("application.step", when, contact, step=name, job_id="a0B1", application_id=app)


def rule(name: str, event: str, points: int, **kw: Any) -> Rule:
    """A rule built from keyword arguments."""
    return Rule(name=name, event=event, points=points, **kw)


STEP_RULES = (
    rule("intake", "application.step", 30, where={"step": ["Intake verwerkt"]}, valid_days=90),
    rule("proposed", "application.step", 25, where={"step": ["Voorgesteld"]}, valid_days=90),
    rule("hired", "application.step", 40, where={"step": ["Aangenomen"]}, valid_days=180),
)


def score(
    events: list[Event],
    rules: tuple[Rule, ...] = STEP_RULES,
    now: datetime = NOW,
    *,
    inactivity: Inactivity | None = None,
    medals: Medals | None = None,
    floor: int = 0,
    explain: bool = False,
) -> ContactState:
    """Score one contact's events with the given rules."""
    scoring = Scoring(rules=rules, inactivity=inactivity, floor=floor)
    book = Rulebook(scoring, medals or Medals(), now)
    return book.score("003C1", events, explain=explain)
