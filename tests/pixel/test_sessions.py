"""Visits: 30 minutes idle ends one; vacancy URLs become job views; open visits wait."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.events import WEB_JOB_VIEW, WEB_VISIT
from connector.pixel.hits import Hit
from connector.pixel.identity import Credited
from connector.pixel.sessions import VacancyMatcher, sessionise
from tests.pixel.helpers import JOB, LATER, T0, settings

IDLE = timedelta(minutes=30)
MATCHER = VacancyMatcher(settings().vacancy_patterns)


def credited(*offsets: timedelta, url: str = "https://site.nl/", contact: str = "003A") -> list[Credited]:
    hits = [Hit(T0 + off, url, visitor_id="v1") for off in offsets]
    return [Credited(contact, h, True, h.id) for h in hits]


def visits(items: list[Credited], now=LATER):  # type: ignore[no-untyped-def]
    return sessionise(items, now=now, idle=IDLE, vacancies=MATCHER)


def test_exactly_thirty_minutes_idle_starts_a_new_visit() -> None:
    result = visits(credited(timedelta(0), IDLE))
    assert result.visits == 2


def test_a_second_less_than_thirty_minutes_idle_is_the_same_visit() -> None:
    result = visits(credited(timedelta(0), IDLE - timedelta(seconds=1), 2 * IDLE - timedelta(seconds=2)))
    assert result.visits == 1
    (visit,) = result.events
    assert visit.kind == WEB_VISIT
    assert visit.attrs["pages"] == 3
    assert visit.attrs["duration"] == int((2 * IDLE - timedelta(seconds=2)).total_seconds())
    assert visit.attrs["landing_url"] == "https://site.nl/"
    assert visit.at == T0


def test_a_visit_that_may_still_grow_is_kept_open() -> None:
    items = credited(timedelta(0), timedelta(minutes=5))
    result = visits(items, now=T0 + timedelta(minutes=5) + IDLE - timedelta(seconds=1))
    assert result.events == []
    assert len(result.open) == 2
    closed = visits(items, now=T0 + timedelta(minutes=5) + IDLE)
    assert closed.visits == 1


def test_event_ids_are_the_same_when_the_same_hits_come_again() -> None:
    items = credited(timedelta(0), timedelta(minutes=1), url=f"https://site.nl/vacatures/{JOB}")
    first, again = visits(items), visits(list(reversed(items)) + items)
    assert [e.id for e in first.events] == [e.id for e in again.events]
    assert first.events[0].attrs["pages"] == 2


@pytest.mark.parametrize(
    ("url", "job"),
    [
        (f"https://site.nl/vacatures/{JOB}", JOB),
        (f"https://site.nl/vacature/senior-developer-{JOB}?utm=x", JOB),
        ("https://site.nl/vacatures/a0B5g000001AbCd", "a0B5g000001AbCd"),
        ("https://site.nl/vacatures/", None),
        ("https://site.nl/over-ons", None),
    ],
)
def test_vacancy_urls_map_to_job_ids(url: str, job: str | None) -> None:
    assert MATCHER.job_id(url) == job


def test_job_numbers_are_looked_up() -> None:
    matcher = VacancyMatcher([r"/jobs/(?P<job_number>\d+)"], {"4711": JOB})
    assert matcher.job_id("https://site.nl/jobs/4711") == JOB
    assert matcher.job_id("https://site.nl/jobs/4712") is None


def test_one_job_view_per_vacancy_and_visit_with_its_views() -> None:
    items = credited(timedelta(0), timedelta(minutes=2), url=f"https://site.nl/vacatures/{JOB}")
    items += credited(timedelta(minutes=1), url="https://site.nl/")
    result = visits(items)
    views = [e for e in result.events if e.kind == WEB_JOB_VIEW]
    assert len(views) == 1
    assert views[0].attrs["job_id"] == JOB
    assert views[0].attrs["views"] == 2
    assert views[0].attrs["visit_id"] == result.events[0].attrs["visit_id"]
    assert views[0].at == T0
    assert result.job_views == 1
