"""Invariants of scoring, checked with generated event histories."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.config import Inactivity, Rule
from connector.details import Band, keep_monotone
from connector.events import Event, make_event

from .helpers import STEP_RULES, score

RULES: tuple[Rule, ...] = (
    *STEP_RULES,
    Rule(name="open", event="email.opened", points=2, valid_days=30, once_per="day", max_points=10),
    Rule(name="visit", event="web.visit", points=3, valid_days=20),
    Rule(name="unsub", event="email.unsubscribed", points=-7, valid_days=40),
)
DECAY = Inactivity(after_days=10, points=-4, every_days=5, valid_days=20)
START = datetime(2026, 1, 1, tzinfo=UTC)
STEPS = ["Match", "Websollicitatie", "Intake verwerkt", "Voorgesteld", "Aangenomen", "Afgewezen"]


@st.composite
def events(draw: st.DrawFn) -> Event:
    kind = draw(st.sampled_from(["application.step", "email.opened", "web.visit", "email.unsubscribed"]))
    when = START + timedelta(minutes=draw(st.integers(0, 200 * 24 * 60)))
    attrs = {"step": draw(st.sampled_from(STEPS))} if kind == "application.step" else {}
    attrs["n"] = draw(st.integers(0, 3))
    return make_event("003C1", kind, when, attrs)


histories = st.lists(events(), max_size=40)
nows = st.integers(0, 260).map(lambda d: START + timedelta(days=d, hours=12))


@given(histories, nows, st.randoms())
def test_input_order_does_not_change_results(history: list[Event], now: datetime, rnd: random.Random) -> None:
    shuffled = history[:]
    rnd.shuffle(shuffled)
    assert score(history, RULES, now, inactivity=DECAY) == score(shuffled, RULES, now, inactivity=DECAY)


@given(histories, nows)
def test_duplicated_events_change_nothing(history: list[Event], now: datetime) -> None:
    assert score(history + history[:5], RULES, now, inactivity=DECAY) == score(
        history, RULES, now, inactivity=DECAY
    )


@given(histories, nows)
def test_score_never_below_floor(history: list[Event], now: datetime) -> None:
    details = score(history, RULES, now, inactivity=DECAY, floor=3).details
    assert details.score is None or details.score >= 3


@given(histories, nows, st.integers(-10, 20))
def test_score_lines_always_add_up_to_the_score(history: list[Event], now: datetime, floor: int) -> None:
    state = score(history, RULES, now, inactivity=DECAY, floor=floor)
    if state.details.score is not None:
        assert sum(line.points for line in state.line_facts().values()) == state.details.score
        assert sum(line.points for line in state.lines) == state.details.score
        assert state.details.score >= floor


@settings(max_examples=60)
@given(histories, st.lists(st.integers(0, 30), min_size=2, max_size=6))
def test_medal_and_dates_never_move_backwards_as_now_advances(history: list[Event], steps: list[int]) -> None:
    now = START
    stored = None
    for days in steps:
        now += timedelta(days=days)
        fresh = score(history, RULES, now, inactivity=DECAY)
        merged = keep_monotone(fresh.details, stored)
        if stored is not None:
            assert (merged.medal.rank if merged.medal else 0) >= (stored.medal.rank if stored.medal else 0)
            for name in ("first_qualified_on", "first_placed_on"):
                if getattr(stored, name) is not None:
                    assert getattr(merged, name) == getattr(stored, name)
        # The pure function agrees on its own: dates already reached are not moved by a later now.
        if stored is not None and stored.first_placed_on is not None:
            assert fresh.details.first_placed_on == stored.first_placed_on
        stored = merged


@given(histories, histories, nows)
def test_adding_events_never_lowers_the_merged_medal(
    first: list[Event], more: list[Event], now: datetime
) -> None:
    before = keep_monotone(score(first, RULES, now).details)
    after = keep_monotone(score(first + more, RULES, now).details, before)
    assert (after.medal.rank if after.medal else 0) >= (before.medal.rank if before.medal else 0)
    if before.first_qualified_on is not None:
        assert after.first_qualified_on == before.first_qualified_on


KINDS_RULES: tuple[Rule, ...] = (
    *RULES,
    Rule(name="visit_candidate", event="web.visit", points=30, valid_days=30, applies_to=("candidate",)),
)


@st.composite
def kind_events(draw: st.DrawFn) -> Event:
    """Events of the histories above, and now and then the contact changing kind."""
    if draw(st.integers(0, 3)) == 0:
        when = START + timedelta(minutes=draw(st.integers(0, 200 * 24 * 60)))
        kind = draw(st.sampled_from(["candidate", "contact_person"]))
        return make_event("003C1", "contact.updated", when, {"kind": kind})
    return draw(events())


@settings(max_examples=300)
@given(st.lists(kind_events(), max_size=40), nows)
def test_heating_up_is_the_band_rising_over_what_the_events_up_to_7_days_ago_gave_then(
    history: list[Event], now: datetime
) -> None:
    """The scorer cuts one pass's matches at 7 days ago; this is the definition, with three passes."""
    then = now - timedelta(days=7)
    state = score(history, KINDS_RULES, now, inactivity=DECAY)
    before = score([e for e in history if e.at <= then], KINDS_RULES, then, inactivity=DECAY).details.band
    band = state.details.band
    rank = {None: 0, Band.COLD: 1, Band.LUKEWARM: 2, Band.WARM: 3, Band.HOT: 4}
    # Engaged this week: an event after `then` earned points (visits and opens do for either kind).
    earning = {"Intake verwerkt", "Voorgesteld", "Aangenomen"}
    engaged = any(
        then < e.at <= now
        and (
            e.kind in ("web.visit", "email.opened")
            or (e.kind == "application.step" and e.attrs["step"] in earning)
        )
        for e in history
    )
    expected = band not in (None, Band.COLD) and engaged and (before is None or rank[band] > rank[before])
    assert state.details.heating_up is expected
