"""From hits to events in one pure step: robots out, identities in, consent gate, visits.

`process` takes the hits of one run, the state kept from earlier runs and the set of contacts with
tracking consent, and returns events, the new state and counts. Every line read in the run ends in
exactly one of `credited`, `waiting` or a rejection reason, so the counts add up to the lines read.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from operator import attrgetter
from typing import Any, TypeVar

from connector.config.pixel import LogFormat, PixelSettings
from connector.events import Event
from connector.pixel.bots import CrawlerFilter, rate_key, too_fast
from connector.pixel.hits import Hit, Reason
from connector.pixel.hits_combined import combined_parser
from connector.pixel.hits_csv import csv_header, csv_parser
from connector.pixel.hits_ndjson import hit_from_json, parse_ndjson
from connector.pixel.identity import Credited, PendingHit, attribute
from connector.pixel.privacy import minimise
from connector.pixel.sessions import DayCaps, DayVisit, VacancyMatcher, sessionise
from connector.pixel.sources import FileMark
from connector.pixel.tokens import Keyring, settings_keyring


@dataclass(frozen=True)
class PixelState:
    """What the pixel room remembers between runs, as plain data (the ledger stores it)."""

    files: Mapping[str, FileMark] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)  # visitor id -> contact id (consented only)
    shared: frozenset[str] = frozenset()  # visitor ids seen with two contacts
    pending: tuple[PendingHit, ...] = ()  # anonymous hits in the window, and hits of open visits
    day_visits: tuple[DayVisit, ...] = ()  # visits counted against the day caps (of the days in reach)


@dataclass
class Counts:
    """One run in numbers. `lines == credited + waiting + sum(rejected)`; the rest is context."""

    lines: int = 0
    credited: int = 0  # lines credited to a consented contact (in a visit now or when it ends)
    waiting: int = 0  # anonymous lines kept until their visitor becomes known (or the window ends)
    rejected: Counter[Reason] = field(default_factory=Counter)
    events: int = 0
    visits: int = 0
    job_views: int = 0
    open_hits: int = 0  # hits in visits that may still grow
    resolved: int = 0  # waiting hits of earlier runs credited now
    expired: int = 0  # waiting hits of earlier runs whose window ended unidentified
    shared_visitors: int = 0  # visitors found to be shared computers in this run
    incomplete_lines: int = 0  # a last line without newline, left for the next run

    def add(self, other: Counts) -> None:
        """Fold another run's counts into these."""
        for name in self.__dataclass_fields__:
            if name == "rejected":
                self.rejected.update(other.rejected)
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; every reason is present (zero when none)."""
        plain: dict[str, Any] = {name: getattr(self, name) for name in self.__dataclass_fields__}
        plain["rejected"] = {reason.value: self.rejected.get(reason, 0) for reason in Reason}
        return plain


@dataclass(frozen=True)
class Outcome:
    """Events to append, the state to keep, the counts to report and visitors to log as shared."""

    events: list[Event]
    state: PixelState
    counts: Counts
    shared: list[str]


@dataclass
class Toolkit:
    """The long-lived helpers of a pipeline (crawler cache, compiled vacancy patterns)."""

    settings: PixelSettings
    crawlers: CrawlerFilter = field(default_factory=CrawlerFilter)
    job_numbers: Mapping[str, str] = field(default_factory=dict)
    vacancies: VacancyMatcher = field(init=False)

    def __post_init__(self) -> None:
        self.vacancies = VacancyMatcher(self.settings.vacancy_patterns, self.job_numbers)

    @property
    def secret(self) -> Keyring | None:
        """The token secrets (newest first), or None when tokens are not configured."""
        return settings_keyring(self.settings)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off for one batch, then restore it as it was."""
    # Every Hit is a tuple subclass, which the collector keeps tracking (it untracks plain tuples only),
    # so a run of 200,000 lines set off ~8 full collections that each walked every Hit so far: a fifth
    # of the run's time. The batch makes no reference cycles; reference counting frees its garbage.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True, slots=True)
class Crash:
    """A line that made its parser raise: where it is among the lines given, and what was raised."""

    index: int
    error: str


def parse_lines(
    lines: Iterable[bytes],
    fmt: LogFormat,
    settings: PixelSettings,
    counts: Counts,
    header: bytes = b"",
    crashes: list[Crash] | None = None,
) -> list[Hit]:
    """Parse raw lines of one format; each rejected line is counted by reason in `counts`.

    A line that makes the parser raise is rejected as `parser_crash` and noted in `crashes`; the
    lines after it are parsed as usual, so one bad line never holds up the rest of a file.
    """
    parser: Callable[[bytes], Hit | Reason]
    size, token = settings.max_line_bytes, settings.token_param
    if fmt == "csv":
        parser = csv_parser(csv_header(header), max_bytes=size, token_param=token)
    elif fmt == "ndjson":
        parser = partial(parse_ndjson, max_bytes=size, token_param=token, keys=settings_keyring(settings))
    else:
        parser = combined_parser(pixel_path=settings.pixel_path, max_bytes=size, token_param=token)
    return _guarded(parser, lines, counts, crashes)


def parse_items(
    items: Iterable[Mapping[str, Any] | None],
    settings: PixelSettings,
    counts: Counts,
    crashes: list[Crash] | None = None,
) -> list[Hit]:
    """`parse_lines` for the provider API's items (None: not a JSON object), mapped to our fields."""
    token, keys = settings.token_param, settings_keyring(settings)

    def parser(item: Mapping[str, Any] | None) -> Hit | Reason:
        return Reason.MALFORMED if item is None else hit_from_json(item, token_param=token, keys=keys)

    return _guarded(parser, items, counts, crashes)


_Raw = TypeVar("_Raw")


def _guarded(
    parser: Callable[[_Raw], Hit | Reason],
    lines: Iterable[_Raw],
    counts: Counts,
    crashes: list[Crash] | None,
) -> list[Hit]:
    hits: list[Hit] = []
    rejected = counts.rejected
    before = sum(rejected.values())
    remaining = iter(lines)
    with _cycle_collector_paused():
        while True:
            # One try around the whole loop, not one per line: nothing is paid per line until a
            # line raises. The iterator has then moved past that line, so the loop resumes after it.
            try:
                for raw in remaining:
                    result = parser(raw)
                    if isinstance(result, Hit):
                        hits.append(result)
                    else:
                        rejected[result] += 1
            except Exception as exc:  # noqa: BLE001 - any parser bug: the line is passed and reported
                index = len(hits) + sum(rejected.values()) - before
                rejected[Reason.PARSER_CRASH] += 1
                if crashes is not None:
                    crashes.append(Crash(index, f"{type(exc).__name__}: {exc}"))
                continue
            return hits


def drop_robots(hits: Iterable[Hit], kit: Toolkit, counts: Counts) -> list[Hit]:
    """Hits of people: known crawlers and too-fast visitors are counted and left out."""
    hits = hits if isinstance(hits, list) else list(hits)
    # A log repeats a few hundred agents: ask once per distinct agent, then filter by set membership.
    is_bot = kit.crawlers.is_bot
    bots = {agent for agent in set(map(_AGENT, hits)) if is_bot(agent)}
    people = [hit for hit in hits if hit.user_agent not in bots] if bots else hits
    if len(people) < len(hits):
        counts.rejected[Reason.BOT] += len(hits) - len(people)
    fast = too_fast(people, kit.settings.max_hits_per_minute)
    if not fast:
        return people
    kept = [hit for hit in people if rate_key(hit) not in fast]
    counts.rejected[Reason.IMPLAUSIBLE_RATE] += len(people) - len(kept)
    return kept


_AGENT = attrgetter("user_agent")


def process(
    hits: Iterable[Hit],
    counts: Counts,
    state: PixelState,
    consented: Collection[str],
    kit: Toolkit,
    now: datetime,
    merged: Mapping[str, str] | None = None,
) -> Outcome:
    """Hits of one run (parser rejections already in `counts`) → events, new state, counts (pure).

    `merged` (a merge's loser -> its survivor): a token of a contact merged into another credits the
    survivor, so tracked links in mail sent to the duplicate keep counting for the person."""
    with _cycle_collector_paused():
        return _process(hits, counts, state, consented, kit, now, merged or {})


def _process(
    hits: Iterable[Hit],
    counts: Counts,
    state: PixelState,
    consented: Collection[str],
    kit: Toolkit,
    now: datetime,
    merged: Mapping[str, str],
) -> Outcome:
    settings = kit.settings
    people = minimise(drop_robots(hits, kit, counts), settings, counts)
    waiting = [p for p in state.pending if not p.contact_id]
    found = attribute(
        people,
        waiting,
        state.links,
        state.shared,
        secret=kit.secret,
        now=now,
        window=timedelta(days=settings.attribution_days),
    )
    counts.rejected.update(found.rejected)
    counts.waiting += found.waiting_new
    counts.expired += found.expired
    counts.shared_visitors += len(found.newly_shared)
    allowed: list[Credited] = []
    for item in found.credited:
        if merged and item.contact_id in merged:
            item = item._replace(contact_id=merged[item.contact_id])
        if item.contact_id in consented:
            allowed.append(item)
            counts.credited += item.new
            counts.resolved += not item.new
        elif item.new:
            counts.rejected[Reason.NO_CONSENT] += 1
    # Hits of visits left open last run; a contact who withdrew consent meanwhile loses them too.
    allowed.extend(
        Credited(p.contact_id, p.hit, False, p.known_id)
        for p in state.pending
        if p.contact_id and p.contact_id in consented
    )
    caps = DayCaps(
        settings.max_visits_per_contact_day, settings.max_visitors_per_contact_day, earlier=state.day_visits
    )
    visits = sessionise(
        allowed, now=now, idle=timedelta(minutes=settings.idle_minutes), vacancies=kit.vacancies, caps=caps
    )
    if visits.over_cap:
        counts.rejected[Reason.OVER_CAP] += visits.over_cap
        counts.credited -= visits.over_cap  # lines of this run: no longer credited, but over the cap
    counts.events += len(visits.events)
    counts.visits += visits.visits
    counts.job_views += visits.job_views
    counts.open_hits = len(visits.open)
    # Links only to consented contacts: nothing about anyone else outlives this run.
    links = {v: merged.get(c, c) for v, c in found.links.items()} if merged else found.links
    links = {v: c for v, c in links.items() if c in consented}
    new_state = PixelState(
        files=state.files,
        links=links,
        shared=frozenset(found.shared),
        pending=tuple(found.waiting) + tuple(visits.open),
        day_visits=state.day_visits + visits.counted,
    )
    return Outcome(visits.events, new_state, counts, found.newly_shared)
