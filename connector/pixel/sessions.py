"""Visits from credited hits: 30 minutes idle ends a visit; vacancy pages become job views.

A visit is one `web.visit` event (pages, landing URL, duration) plus one `web.job_view` per vacancy
seen in it. Ids are derived from the contact, the visitor and the first hit, so reading the same hits
again yields the same events. A visit whose last hit is less than the idle time before `now` may
still grow: its hits are handed back as open and become events in a later run.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from connector.events import WEB_JOB_VIEW, WEB_VISIT, Event, derive_id, format_time, make_event
from connector.pixel.identity import Credited, PendingHit


class VacancyMatcher:
    """Maps page URLs to `msf__Job__c` ids by configured patterns (job numbers through a lookup)."""

    def __init__(self, patterns: Sequence[str], job_numbers: Mapping[str, str] | None = None) -> None:
        compiled = [re.compile(p) for p in patterns]
        numbers = dict(job_numbers or {})

        # Per matcher (its patterns and numbers), and bounded: a crawl of unique URLs must not grow
        # memory. A closure over what it needs, so the cache holds no reference back to the matcher.
        @lru_cache(maxsize=100_000)
        def find(url: str) -> str | None:
            found = None
            for pattern in compiled:
                match = pattern.search(url)
                if match is None:
                    continue
                groups = match.groupdict()
                found = groups.get("job_id") or numbers.get(groups.get("job_number") or "")
                if found:
                    break
            return found

        self._find = find

    def job_id(self, url: str) -> str | None:
        """The vacancy id a page URL shows, or None when it is not a (known) vacancy page."""
        return self._find(url)


class DayVisit(NamedTuple):
    """A visit counted against its contact's caps of its day (the UTC date of its first hit)."""

    visit_id: str
    contact_id: str
    day: date
    visitor_id: str


@dataclass(frozen=True, slots=True)
class DayCaps:
    """The most one contact is credited with in a UTC day: visits, and distinct visitor ids.

    `earlier`: the visits earlier runs counted (on the days this run may credit), so a cap holds
    per day, however many runs the day's hits are read in.
    """

    visits: int
    visitors: int
    earlier: Collection[DayVisit] = ()


@dataclass(frozen=True, slots=True)
class Visits:
    """Events of the visits that ended, and hits of visits still open at `now`."""

    events: list[Event]
    open: list[PendingHit]
    visits: int
    job_views: int
    over_cap: int = 0  # hits read in this run whose visits the day caps dropped
    counted: tuple[DayVisit, ...] = ()  # the visits of this run the day caps counted (to keep)


def sessionise(
    credited: Iterable[Credited],
    *,
    now: datetime,
    idle: timedelta,
    vacancies: VacancyMatcher,
    caps: DayCaps | None = None,
) -> Visits:
    """Group each contact's hits per visitor into visits (a gap of `idle` or more starts a new one).

    With `caps`, a contact's visits of a day beyond the cap (or by one visitor id too many) are dropped,
    oldest kept: one leaked token in a script's hands cannot flood the org. The visits of the day
    counted in earlier runs (`caps.earlier`) count first; a visit among them read again counts once.
    """
    groups: dict[tuple[str, str], dict[str, Credited]] = {}
    for item in credited:
        # Keyed by hit id: a hit read twice (re-ingest, or kept open and read again) counts once.
        hit_id = item.id
        groups.setdefault((item.contact_id, item.hit.visitor_id), {})[hit_id] = (
            item if item.known_id else Credited(item.contact_id, item.hit, item.new, hit_id)
        )
    ended: list[tuple[datetime, str, str, int, list[Event]]] = []  # first hit, contact, visitor, new hits
    still_open: list[PendingHit] = []
    for (contact_id, visitor), by_id in groups.items():
        ordered = sorted(by_id.values(), key=_TIME_THEN_ID)
        start = 0
        for i in range(1, len(ordered) + 1):
            if i < len(ordered) and ordered[i].hit.at - ordered[i - 1].hit.at < idle:
                continue
            visit = ordered[start:i]
            start = i
            if i == len(ordered) and now - visit[-1].hit.at < idle:
                still_open.extend(PendingHit.of(c.hit, contact_id, c.known_id) for c in visit)
                continue
            made = _visit_events(contact_id, visitor, visit, vacancies)
            ended.append((visit[0].hit.at, contact_id, visitor, sum(c.new for c in visit), made))
    kept, over_cap, counted = _capped(ended, caps) if caps is not None else (ended, 0, [])
    events = [event for *_, made in kept for event in made]
    job_views = sum(len(made) - 1 for *_, made in kept)
    return Visits(events, still_open, len(kept), job_views, over_cap, tuple(counted))


_Ended = tuple[datetime, str, str, int, list[Event]]  # first hit, contact, visitor, new hits, events


def _capped(ended: list[_Ended], caps: DayCaps) -> tuple[list[_Ended], int, list[DayVisit]]:
    if not ended:
        return [], 0, []  # nothing ended: no need to count the earlier runs' visits
    per_day: dict[tuple[str, date], set[str]] = {}
    visits: dict[tuple[str, date], int] = {}
    known: set[str] = set()
    for row in caps.earlier:
        key = (row.contact_id, row.day)
        visits[key] = visits.get(key, 0) + 1
        per_day.setdefault(key, set()).add(row.visitor_id)
        known.add(row.visit_id)
    check = bool(known) or len(ended) > min(caps.visits, caps.visitors)  # else too few to exceed a cap
    kept, over, counted = [], 0, []
    for item in sorted(ended, key=lambda v: (v[0], v[1], v[2])) if check else ended:
        at, contact_id, visitor, new_hits, made = item
        visit_id = str(made[0].attrs["visit_id"])
        if visit_id in known:
            kept.append(item)  # counted when first read (a file read again): its event is a duplicate
            continue
        day = (contact_id, at.date())
        seen = per_day.setdefault(day, set())
        if check and (
            visits.get(day, 0) >= caps.visits or (visitor not in seen and len(seen) >= caps.visitors)
        ):
            over += new_hits
            continue
        visits[day] = visits.get(day, 0) + 1
        seen.add(visitor)
        known.add(visit_id)
        kept.append(item)
        counted.append(DayVisit(visit_id, contact_id, at.date(), visitor))
    return kept, over, counted


def _TIME_THEN_ID(item: Credited) -> tuple[datetime, str]:  # noqa: N802 - a sort key
    return item.hit.at, item.known_id


def _visit_events(
    contact_id: str, visitor: str, visit: list[Credited], vacancies: VacancyMatcher
) -> list[Event]:
    first, last = visit[0].hit, visit[-1].hit
    visit_id = derive_id("visit", contact_id, visitor, format_time(first.at))[:24]
    attrs = {
        "visit_id": visit_id,
        "pages": len(visit),
        "landing_url": first.url,
        "duration": int((last.at - first.at).total_seconds()),
    }
    made = [make_event(contact_id, WEB_VISIT, first.at, attrs, id=derive_id("pixel", WEB_VISIT, visit_id))]
    seen: dict[str, list[datetime]] = {}
    urls: dict[str, str] = {}
    for item in visit:
        job_id = vacancies.job_id(item.hit.url)
        if job_id:
            seen.setdefault(job_id, []).append(item.hit.at)
            urls.setdefault(job_id, item.hit.url)
    for job_id, times in seen.items():
        view = {
            "job_id": job_id,
            "url": urls[job_id],
            "visit_id": visit_id,
            "views": len(times),
            "last_at": format_time(times[-1]),
        }
        event_id = derive_id("pixel", WEB_JOB_VIEW, visit_id, job_id)
        made.append(make_event(contact_id, WEB_JOB_VIEW, times[0], view, id=event_id))
    return made
