"""The scoring function: (events, rules, now) → ContactState. Pure: no I/O, no clock.

Semantics are design.md §4 as made exact in the scoring-engine issue; each block below names the
sentence it implements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from connector.config import ContactKind, Medals, Rule, Scoring
from connector.events import APPLICATION_STEP, CONTACT_UPDATED, Event
from connector.scoring.model import (
    EMPTY_DETAILS,
    Band,
    ContactState,
    Line,
    LineEvent,
    Medal,
    RecruitmentDetails,
    higher_medal,
)

_KINDS = {k.value: k for k in ContactKind}


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: Rule
    where: tuple[tuple[str, frozenset[Any]], ...]

    def matches(self, attrs: Mapping[str, Any]) -> bool:
        for key, allowed in self.where:
            value = attrs.get(key)
            if value is None or isinstance(value, list | dict) or value not in allowed:
                return False
        return True


class Rulebook:
    """Rules, medals and `now` prepared once per job, then applied to many contacts."""

    def __init__(self, scoring: Scoring, medals: Medals, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.scoring = scoring
        self.medals = medals
        self.now = now.astimezone(UTC)
        self.zone = ZoneInfo(scoring.timezone)
        self.local_date = _local_date_function(self.zone)
        self.today = self.now.astimezone(self.zone).date()
        by_kind: dict[str, list[_CompiledRule]] = {}
        for rule in scoring.rules:
            where = tuple(
                (key, frozenset(value if isinstance(value, list) else [value]))
                for key, value in rule.where.items()
            )
            by_kind.setdefault(rule.event, []).append(_CompiledRule(rule, where))
        self.rules_by_kind = {kind: tuple(rules) for kind, rules in by_kind.items()}
        self.medal_of_step: dict[str, Medal] = {}
        for medal, steps in ((Medal.BRONZE, medals.bronze), (Medal.SILVER, medals.silver)):
            self.medal_of_step.update(dict.fromkeys(steps, medal))
        self.medal_of_step.update(dict.fromkeys(medals.gold, Medal.GOLD))

    def score(self, contact_id: str, events: Iterable[Event], *, explain: bool = False) -> ContactState:
        """Score one contact from its events (any order, duplicates allowed)."""
        return score_contact(self, contact_id, events, explain=explain)


def _local_date_function(zone: ZoneInfo) -> Any:
    # Offsets of real zones are whole quarter hours, so a 15-minute UTC bucket never straddles a local
    # midnight: caching per bucket turns a tz conversion per event into a dict lookup.
    @lru_cache(maxsize=65536)
    def bucket_date(bucket: int) -> date:
        return datetime.fromtimestamp(bucket * 900, tz=zone).date()

    def local_date(at: datetime) -> date:
        return bucket_date(int(at.timestamp()) // 900)

    return local_date


def score_contact(
    book: Rulebook, contact_id: str, events: Iterable[Event], *, explain: bool = False
) -> ContactState:
    """Score one contact. Events after `now` are ignored; duplicates (same id) count once."""
    unique = {e.id: e for e in events if e.at <= book.now}
    ordered = sorted(unique.values(), key=lambda e: (e.at, e.id))
    kind = ContactKind.CANDIDATE
    for event in ordered:
        if event.kind == CONTACT_UPDATED:
            kind = _KINDS.get(str(event.attrs.get("kind")), kind)

    matched: dict[str, list[tuple[Event, date]]] = {}
    activity: set[date] = set()
    medal: Medal | None = None
    first_medal_on: date | None = None
    first_gold_on: date | None = None
    for event in ordered:
        day: date | None = None
        for compiled in book.rules_by_kind.get(event.kind, ()):
            rule = compiled.rule
            if kind not in rule.applies_to or not compiled.matches(event.attrs):
                continue
            day = day or book.local_date(event.at)
            matched.setdefault(rule.name, []).append((event, day))
            # "Activity = an event matching a rule with points > 0."
            if rule.points > 0:
                activity.add(day)
        if event.kind == APPLICATION_STEP and kind is ContactKind.CANDIDATE:
            earned = book.medal_of_step.get(str(event.attrs.get("step")))
            if earned is not None:
                day = day or book.local_date(event.at)
                medal = higher_medal(medal, earned)
                first_medal_on = first_medal_on or day
                if earned is Medal.GOLD:
                    first_gold_on = first_gold_on or day

    if not activity and medal is None:
        return ContactState(contact_id, kind, EMPTY_DETAILS)

    lines = [_rule_line(book, r, matched[r.name], explain) for r in book.scoring.rules if r.name in matched]
    activity_days = sorted(activity)
    lines += _inactivity_lines(book, activity_days)
    score = max(book.scoring.floor, sum(line.points for line in lines))
    first_points_on = activity_days[0] if activity_days else None
    qualified_on = first_points_on if book.medals.first_qualification == "first_points" else first_medal_on
    details = RecruitmentDetails(
        score=score,
        band=Band.of(score, book.scoring.bands),
        medal=medal,
        first_qualified_on=qualified_on,
        first_placed_on=first_gold_on,
    )
    last = activity_days[-1] if activity_days else None
    return ContactState(contact_id, kind, details, last, tuple(lines))


def _rule_line(book: Rulebook, rule: Rule, matched: list[tuple[Event, date]], explain: bool) -> Line:
    """A rule's contribution: counted events (once_per), still valid (valid_days), capped (max_points)."""
    counted: list[tuple[Event, date]] = []
    repeats: list[tuple[Event, date]] = []
    if rule.once_per == "event":
        counted = matched
    elif rule.once_per == "ever":
        counted, repeats = matched[:1], matched[1:]
    else:
        seen_days: set[date] = set()
        for event, day in matched:
            (repeats if day in seen_days else counted).append((event, day))
            seen_days.add(day)
    valid_days = rule.valid_days
    live = 0
    next_expiry: date | None = None
    details: list[LineEvent] = []
    for event, day in counted:
        expires_on = day + timedelta(days=valid_days) if valid_days is not None else None
        alive = expires_on is None or book.today < expires_on
        if alive:
            live += 1
            if expires_on is not None and (next_expiry is None or expires_on < next_expiry):
                next_expiry = expires_on
        if explain:
            status = "counted" if alive else "expired"
            details.append(LineEvent(event.id, event.at, rule.points if alive else 0, status, expires_on))
    if explain:
        details += [LineEvent(e.id, e.at, 0, "repeat", None) for e, _ in repeats]
        details.sort(key=lambda d: (d.at, d.event_id))
    raw = rule.points * live
    capped = rule.max_points is not None and raw > rule.max_points
    points = rule.max_points if capped and rule.max_points is not None else raw
    return Line(rule.name, points, "rule", capped, next_expiry, tuple(details))


def _inactivity_lines(book: Rulebook, activity_days: list[date]) -> list[Line]:
    """Penalties on L + after_days + k·every_days before the next activity; only the valid ones."""
    decay = book.scoring.inactivity
    if decay is None or not activity_days:
        return []
    today = book.today
    oldest_valid = today - timedelta(days=decay.valid_days - 1)
    lines: list[Line] = []
    for index, last in enumerate(activity_days):
        first = last + timedelta(days=decay.after_days)
        until = activity_days[index + 1] - timedelta(days=1) if index + 1 < len(activity_days) else today
        until = min(until, today)
        if until < first or until < oldest_valid:
            continue
        skip = max(0, -(-(oldest_valid - first).days // decay.every_days))  # ceil division
        penalty_on = first + timedelta(days=skip * decay.every_days)
        while penalty_on <= until:
            expires_on = penalty_on + timedelta(days=decay.valid_days)
            lines.append(
                Line(f"inactivity {penalty_on.isoformat()}", decay.points, "inactivity", False, expires_on)
            )
            penalty_on += timedelta(days=decay.every_days)
    return lines


def keep_monotone(previous: RecruitmentDetails | None, state: ContactState) -> ContactState:
    """Never lower a medal, never move a first date: merge what was stored (or shown by the org)."""
    if previous is None or previous.is_empty:
        return state
    new = state.details
    medal = higher_medal(previous.medal, new.medal)
    merged = RecruitmentDetails(
        score=new.score,
        band=new.band,
        medal=medal,
        first_qualified_on=previous.first_qualified_on or new.first_qualified_on,
        first_placed_on=previous.first_placed_on or new.first_placed_on,
    )
    if merged == new:
        return state
    return ContactState(state.contact_id, state.kind, merged, state.last_activity_on, state.lines)
