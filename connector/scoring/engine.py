"""The scoring function: (events, rules, now) → ContactState. Pure: no I/O, no clock.

Semantics are the `[scoring]` rules of config.example.toml, made exact; each block below names the
sentence it implements.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connector.config import Medals, Rule, Scoring
from connector.details import (
    EMPTY_DETAILS,
    Band,
    ContactKind,
    Medal,
    RecruitmentDetails,
    higher_medal,
)
from connector.events import (
    APPLICATION_STEP,
    CONTACT_UPDATED,
    EMAIL_REPLIED,
    Event,
    EventRecord,
    from_micros,
    record_of,
    to_micros,
)
from connector.scoring.model import (
    FLOOR_LINE,
    ContactState,
    EventStatus,
    Line,
    LineEvent,
    LineKind,
    explanation,
)

_KINDS = {k.value: k for k in ContactKind}
# Offsets of real zones are whole quarter hours, so a 15-minute UTC bucket never straddles a local
# midnight: the local date of a bucket is computed once per job, then looked up.
_BUCKET = 900 * 1_000_000
# "Heating up" compares the band now with the band this long ago.
TREND_DAYS = 7
_BAND_RANK = {band: rank for rank, band in enumerate(Band)}


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
        self.now_micros = to_micros(self.now)
        self.zone = ZoneInfo(scoring.timezone)
        self.today = self.now.astimezone(self.zone).date()
        self.today_ordinal = self.today.toordinal()
        # One local date per 15-minute UTC bucket, computed once per job (measured as fast as the
        # hand-written dict memo it replaced, ~160 ns a lookup either way).
        self.day_of_bucket = functools.cache(self._local_day_of_bucket)
        by_kind: dict[str, list[_CompiledRule]] = {}
        for rule in scoring.rules:
            where = tuple(
                (key, frozenset(value if isinstance(value, list) else [value]))
                for key, value in rule.where.items()
            )
            by_kind.setdefault(rule.event, []).append(_CompiledRule(rule, where))
        self.rules_by_kind = {kind: tuple(rules) for kind, rules in by_kind.items()}
        # The applies_to filter, decided once per contact kind instead of once per event; each rule
        # as (name, compiled where or None, counts as activity) for the per-event loop.
        self.rules_for: dict[ContactKind, dict[str, tuple[tuple[str, _CompiledRule | None, bool], ...]]] = {
            contact_kind: {
                kind: applicable
                for kind, rules in self.rules_by_kind.items()
                if (
                    applicable := tuple(
                        (c.rule.name, c if c.where else None, c.rule.points > 0)
                        for c in rules
                        if contact_kind in c.rule.applies_to
                    )
                )
            }
            for contact_kind in ContactKind
        }
        self.medal_of_step: dict[str, Medal] = {}
        for medal, steps in ((Medal.BRONZE, medals.bronze), (Medal.SILVER, medals.silver)):
            self.medal_of_step.update(dict.fromkeys(steps, medal))
        self.medal_of_step.update(dict.fromkeys(medals.gold, Medal.GOLD))
        # Event kinds whose attributes the rules read; a bulk reader may leave the others' empty.
        self.attrs_kinds = frozenset(
            {
                kind
                for kind, rules in self.rules_by_kind.items()
                if any(c.where or c.rule.once_per == "application" for c in rules)
            }
            | ({APPLICATION_STEP} if self.medal_of_step else set())
            | ({EMAIL_REPLIED} & set(self.rules_by_kind))  # a reply's identity is its e-mail
            | {CONTACT_UPDATED}
        )

    @functools.cached_property
    def week_ago(self) -> Rulebook:
        """The same rules at `now` minus TREND_DAYS: the band a contact showed then (for `heating_up`)."""
        return Rulebook(self.scoring, self.medals, self.now - timedelta(days=TREND_DAYS))

    def score(self, contact_id: str, events: Iterable[Event], *, explain: bool = False) -> ContactState:
        """Score one contact from its events (any order, duplicates allowed)."""
        return _score(self, contact_id, [record_of(e) for e in events], explain)

    def score_records(
        self, contact_id: str, records: Iterable[EventRecord], *, explain: bool = False
    ) -> ContactState:
        """Score one contact from its event records, as the ledger's bulk readers give them."""
        return _score(self, contact_id, records, explain)

    def day_of(self, micros: int) -> int:
        """The proleptic ordinal of the local date of a UTC instant in microseconds."""
        return self.day_of_bucket(micros // _BUCKET)

    def _local_day_of_bucket(self, bucket: int) -> int:
        return from_micros(bucket * _BUCKET).astimezone(self.zone).toordinal()


def _score(book: Rulebook, contact_id: str, records: Iterable[EventRecord], explain: bool) -> ContactState:
    """The one scoring function. Events after `now` are ignored; duplicates (same id) count once."""
    now = book.now_micros
    unique: dict[object, EventRecord] = {}
    for r in records:
        if r[0] <= now:
            key = _identity(r)
            kept = unique.get(key)
            if kept is None or _preferred(r, kept):  # the same choice in any input order
                unique[key] = r
    ordered = sorted(unique.values())  # ids are unique here, so ties on time break by id
    return _evaluate(book, contact_id, ordered, explain, trend=True)


def _evaluate(
    book: Rulebook, contact_id: str, ordered: list[EventRecord], explain: bool, *, trend: bool
) -> ContactState:
    """Score unique records in time order, all at or before `now`.

    With `trend`, a contact above cold who engaged in the last TREND_DAYS is compared with the band
    the events up to TREND_DAYS ago gave then: a band that rose only because a penalty lapsed is no
    heating up. That band comes from this pass's matches cut at then (`_band_at`), not a second pass.
    """
    then = book.week_ago.now_micros if trend else -1
    kind = kind_then = ContactKind.CANDIDATE
    for record in ordered:
        if record[2] == CONTACT_UPDATED:
            kind = _KINDS.get(str(record[3].get("kind")), kind)
            if record[0] <= then:
                kind_then = kind

    rules_of_kind = book.rules_for[kind]
    medal_of_step = book.medal_of_step if kind is ContactKind.CANDIDATE else None
    day_of, day_of_bucket = book.day_of, book.day_of_bucket
    matched: dict[str, list[tuple[EventRecord, int]]] = {}
    activity: set[int] = set()
    last_engaged: EventRecord | None = None
    last_engaged_by: str | None = None
    medal: Medal | None = None
    first_medal_on = first_gold_on = 0  # date ordinals; 0 = none yet
    first_medal_at = 0  # UTC microseconds of the first medal step; 0 = none yet
    for record in ordered:
        event_kind = record[2]
        day = 0
        rules = rules_of_kind.get(event_kind)
        if rules is not None:
            for name, where, is_activity in rules:
                if where is not None and not where.matches(record[3]):
                    continue
                if not day:
                    day = day_of_bucket(record[0] // _BUCKET)
                hits = matched.get(name)
                if hits is None:
                    matched[name] = [(record, day)]
                else:
                    hits.append((record, day))
                # "Activity = an event matching a rule with points > 0."
                if is_activity:
                    activity.add(day)
                    if last_engaged is not record:  # the first rule of the latest such event names it
                        last_engaged, last_engaged_by = record, name
        if medal_of_step is not None and event_kind == APPLICATION_STEP:
            earned = medal_of_step.get(str(record[3].get("step")))
            if earned is not None:
                day = day or day_of(record[0])
                medal = higher_medal(medal, earned)
                first_medal_on = first_medal_on or day
                first_medal_at = first_medal_at or record[0]
                if earned is Medal.GOLD:
                    first_gold_on = first_gold_on or day

    if not activity and medal is None:
        return ContactState(contact_id, kind, EMPTY_DETAILS)

    lines = [_rule_line(book, r, matched[r.name], explain) for r in book.scoring.rules if r.name in matched]
    activity_days = sorted(activity)
    lines += _inactivity_lines(book, activity_days)
    lines += _floor_line(book.scoring.floor, sum(line.points for line in lines))
    score = sum(line.points for line in lines)
    first_points_on = activity_days[0] if activity_days else 0
    qualified_on = first_points_on if book.medals.first_qualification == "first_points" else first_medal_on
    band = Band.of(score, book.scoring.bands)
    heating_up = False
    if trend and band is not Band.COLD and last_engaged is not None and last_engaged[0] > then:
        if kind_then is kind:  # the same rules applied then: cut this pass's matches at then
            before = _band_at(book.week_ago, matched, 0 < first_medal_at <= then)
        else:  # the contact changed kind since: score the events up to then as that kind
            earlier = ordered[: bisect_right(ordered, then, key=_at)]
            before = _evaluate(book.week_ago, contact_id, earlier, False, trend=False).details.band
        heating_up = before is None or _BAND_RANK[band] > _BAND_RANK[before]
    last = _date(activity_days[-1]) if activity_days else None
    details = RecruitmentDetails(
        score=score,
        band=band,
        medal=medal,
        first_qualified_on=_date(qualified_on),
        first_placed_on=_date(first_gold_on),
        heating_up=heating_up,
        last_engaged_on=last,
        last_engaged_by=last_engaged_by,
        explanation=explanation(lines) if trend else None,  # the pass at TREND_DAYS ago needs the band
    )
    return ContactState(contact_id, kind, details, last, tuple(lines))


def _band_at(
    past: Rulebook, matched: Mapping[str, list[tuple[EventRecord, int]]], medal: bool
) -> Band | None:
    """The band the events up to `past.now` gave then, from one pass's matches (each rule's hits in
    time order, with their local days): what `_evaluate` of those events at `past` would say."""
    then = past.now_micros
    lines: list[Line] = []
    activity: set[int] = set()
    for rule in past.scoring.rules:
        hits = matched.get(rule.name)
        if not hits:
            continue
        upto = bisect_right(hits, then, key=_hit_at)
        if upto:
            lines.append(_rule_line(past, rule, hits[:upto], False))
            if rule.points > 0:
                activity.update(day for _, day in hits[:upto])
    if not activity and not medal:
        return None
    lines += _inactivity_lines(past, sorted(activity))
    lines += _floor_line(past.scoring.floor, sum(line.points for line in lines))
    return Band.of(sum(line.points for line in lines), past.scoring.bands)


def _hit_at(hit: tuple[EventRecord, int]) -> int:
    return hit[0][0]


def _identity(record: EventRecord) -> object:
    """What makes an event the same event: its id; for a step, also its application, step and second;
    for a reply, the e-mail replied to."""
    # Ledgers from before step events had one id whether read from the record or its field history hold
    # both ids for one transition; it counts once.
    if record[2] == APPLICATION_STEP:
        application = record[3].get("application_id")
        if application is not None:
            return (application, record[3].get("step"), record[0] // 1_000_000)
    # A reply was once read from the original's HasReply (an event of the original, no `reply_id`) and
    # is now read from the reply message (another id, the original as `message_id`): a ledger from
    # before the upgrade holds both for one reply. One e-mail's reply counts once, as HasReply did.
    elif record[2] == EMAIL_REPLIED:
        message = record[3].get("message_id")
        if message is not None:
            return (EMAIL_REPLIED, message)
    return record[1]


def _preferred(record: EventRecord, kept: EventRecord) -> bool:
    """Of two records of one event, whether `record` is the one to count instead of `kept`: the smallest
    id; for replies the old event first (the reply the ledger already counted keeps its day), then the
    earliest reply."""
    if record[2] == EMAIL_REPLIED:
        new, old = "reply_id" in record[3], "reply_id" in kept[3]
        return (new, record[0], record[1]) < (old, kept[0], kept[1])
    return record[1] < kept[1]


def _at(record: EventRecord) -> int:
    return record[0]


def _date(ordinal: int) -> date | None:
    return date.fromordinal(ordinal) if ordinal else None


def _rule_line(book: Rulebook, rule: Rule, matched: list[tuple[EventRecord, int]], explain: bool) -> Line:
    """A rule's contribution: counted events (once_per), still valid (valid_days), capped (max_points)."""
    counted: list[tuple[EventRecord, int]] = []
    repeats: list[tuple[EventRecord, int]] = []
    if rule.once_per == "event":
        counted = matched
    elif rule.once_per == "ever":
        counted, repeats = matched[:1], matched[1:]
    elif rule.once_per == "application":
        # Moving an application back to a step it passed earns that step again only without an id.
        seen_applications: set[Any] = set()
        for pair in matched:
            application = pair[0][3].get("application_id")
            repeat = application is not None and application in seen_applications
            (repeats if repeat else counted).append(pair)
            seen_applications.add(application)
    else:
        seen_days: set[int] = set()
        for pair in matched:
            (repeats if pair[1] in seen_days else counted).append(pair)
            seen_days.add(pair[1])
    valid_days = rule.valid_days
    today = book.today_ordinal
    if valid_days is None:
        live, next_expiry = len(counted), 0
    else:
        live_expiries = [expires for _, day in counted if (expires := day + valid_days) > today]
        live = len(live_expiries)
        next_expiry = min(live_expiries) if live_expiries else 0
    details: list[LineEvent] = []
    if explain:
        for (at, event_id, _, _), day in counted:
            expires = day + valid_days if valid_days is not None else 0
            alive = not expires or today < expires
            status = EventStatus.COUNTED if alive else EventStatus.EXPIRED
            points = rule.points if alive else 0
            details.append(LineEvent(event_id, from_micros(at), points, status, _date(expires)))
        details += [LineEvent(r[1], from_micros(r[0]), 0, EventStatus.REPEAT, None) for r, _ in repeats]
        details.sort(key=lambda d: (d.at, d.event_id))
    raw = rule.points * live
    capped = rule.max_points is not None and raw > rule.max_points
    points = rule.max_points if capped and rule.max_points is not None else raw
    # Counted pairs are in time order, and the latest has the latest expiry: if any is live, it is.
    last_on = _date(counted[-1][1]) if live else None
    return Line(rule.name, points, LineKind.RULE, capped, _date(next_expiry), tuple(details), live, last_on)


def _floor_line(floor: int, total: int) -> list[Line]:
    """What lifts a total below the floor back to it, as part of the penalty line."""
    # Clamping the total instead would leave the org's score lines summing to less than the score;
    # folded into the inactivity line (LineKind.INACTIVITY), the lines always add up.
    if total >= floor:
        return []
    return [Line(FLOOR_LINE, floor - total, LineKind.INACTIVITY)]


def _inactivity_lines(book: Rulebook, activity_days: list[int]) -> list[Line]:
    """Penalties on L + after_days + k·every_days before the next activity; only the valid ones."""
    decay = book.scoring.inactivity
    if decay is None or not activity_days:
        return []
    today = book.today_ordinal
    oldest_valid = today - (decay.valid_days - 1)
    lines: list[Line] = []
    # Gaps that closed before the oldest still-valid penalty date can hold no valid penalty.
    start = max(0, bisect_right(activity_days, oldest_valid) - 1)
    last_index = len(activity_days) - 1
    for index in range(start, last_index + 1):
        first = activity_days[index] + decay.after_days
        until = activity_days[index + 1] - 1 if index < last_index else today
        until = min(until, today)
        if until < first or until < oldest_valid:
            continue
        skip = max(0, -(-(oldest_valid - first) // decay.every_days))  # ceil division
        penalty_on = first + skip * decay.every_days
        while penalty_on <= until:
            name = f"inactivity {date.fromordinal(penalty_on).isoformat()}"
            expires_on = date.fromordinal(penalty_on + decay.valid_days)
            lines.append(Line(name, decay.points, LineKind.INACTIVITY, False, expires_on))
            penalty_on += decay.every_days
    return lines
