"""What a score line says besides its points: events counted now, the latest one's day, the next lapse."""

from __future__ import annotations

from datetime import date

from connector.config import Inactivity, Rule
from connector.details import LineFacts
from connector.events import Event

from .helpers import at, ev, rule, score

CLICK = (rule("click", "email.clicked", 5, valid_days=30),)
CLICKS = [
    ev("email.clicked", at("03-01")),
    ev("email.clicked", at("03-05")),
    ev("email.clicked", at("03-10")),
]


def facts(events: list[Event], now: str, time: str = "12:00", rules: tuple[Rule, ...] = CLICK) -> LineFacts:
    return score(events, rules, now=at(now, time)).line_facts()["click"]


def test_a_line_counts_its_live_events_names_the_latest_day_and_the_first_lapse() -> None:
    assert facts(CLICKS, "03-20") == LineFacts(15, 3, date(2026, 3, 10), date(2026, 3, 31))


def test_the_latest_event_day_is_the_scoring_zones_day() -> None:
    late = ev("email.clicked", at("03-10", "23:30"))  # 00:30 on 11 March in Amsterdam
    assert facts([late], "03-20").last_event_on == date(2026, 3, 11)


def test_an_event_drops_out_of_the_count_on_the_day_it_lapses() -> None:
    # 1 March + 30 days: counted through 30 March, not on 31 March (Amsterdam, summer time from 29 March).
    assert facts(CLICKS, "03-30", "21:30") == LineFacts(15, 3, date(2026, 3, 10), date(2026, 3, 31))
    assert facts(CLICKS, "03-30", "22:30") == LineFacts(10, 2, date(2026, 3, 10), date(2026, 4, 4))


def test_a_line_whose_events_all_lapsed_counts_none_and_lapses_no_more() -> None:
    assert facts(CLICKS, "05-01") == LineFacts(0, 0, None, None)


def test_points_that_never_lapse_have_no_lapse_date() -> None:
    forever = (rule("click", "email.clicked", 5),)
    assert facts(CLICKS, "12-01", rules=forever) == LineFacts(15, 3, date(2026, 3, 10), None)


def test_repeats_are_not_counted() -> None:
    daily = (rule("click", "email.clicked", 5, valid_days=30, once_per="day"),)
    same_day = [ev("email.clicked", at("03-01", "09:00")), ev("email.clicked", at("03-01", "15:00"))]
    assert facts(same_day, "03-02", rules=daily) == LineFacts(5, 1, date(2026, 3, 1), date(2026, 3, 31))


def test_a_capped_line_still_counts_every_live_event() -> None:
    capped = (rule("click", "email.clicked", 5, valid_days=30, max_points=10),)
    assert facts(CLICKS, "03-20", rules=capped) == LineFacts(10, 3, date(2026, 3, 10), date(2026, 3, 31))


def test_the_inactivity_line_carries_points_only() -> None:
    decay = Inactivity(after_days=14, points=-5, every_days=7, valid_days=30)
    state = score([ev("email.clicked", at("03-01"))], CLICK, now=at("03-20"), inactivity=decay)
    assert state.line_facts()["inactivity"] == LineFacts(-5)
    assert state.line_facts()["inactivity"].events is None
