"""Outcome evaluation, pure: who is in a snapshot, what counts as an outcome, and the figures."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from connector.config import Medals, Rule, Scoring
from connector.events import Event, make_event, record_of
from connector.scoring.evaluate import (
    MIN_BAND,
    Observation,
    auc,
    gains,
    observe,
    outcome_steps,
    snapshot_times,
    summarise,
    wilson,
)
from connector.scoring.simulate import EMPTY

SNAP = datetime(2026, 3, 1, tzinfo=UTC)
HORIZON = timedelta(days=30)
RULES = (
    Rule(name="intake", event="application.step", where={"step": ["Intake verwerkt"]}, points=30),
    Rule(name="click", event="email.clicked", points=10),
)
RULE_SET = (Scoring(rules=RULES, timezone="UTC"), Medals())
PLACED = outcome_steps(Medals(), "placed")


def at(days: float) -> datetime:
    return SNAP + timedelta(days=days)


def step(contact: str, name: str, days: float) -> Event:
    return make_event(contact, "application.step", at(days), {"step": name})


def click(contact: str, days: float) -> Event:
    return make_event(contact, "email.clicked", at(days))


def observations(events: list[Event], snapshots: list[datetime] | None = None) -> list[Observation]:
    by_contact: dict[str, list[Event]] = {}
    for event in events:
        by_contact.setdefault(event.contact_id, []).append(event)
    contacts = [(cid, [record_of(e) for e in found]) for cid, found in sorted(by_contact.items())]
    return observe(contacts, [RULE_SET], snapshots or [SNAP], PLACED, HORIZON)[0]


def test_outcome_steps_include_the_later_medals() -> None:
    assert outcome_steps(Medals(), "intake") == {"Intake verwerkt", "Voorgesteld", "Aangenomen"}
    assert outcome_steps(Medals(), "proposed") == {"Voorgesteld", "Aangenomen"}
    assert {"Aangenomen"} == PLACED


def test_a_candidate_placed_before_the_snapshot_is_not_in_it() -> None:
    found = observations([click("003A", -10), step("003A", "Aangenomen", -1), click("003B", -5)])
    assert [o.contact_id for o in found] == ["003B"]


def test_an_outcome_step_before_the_snapshot_is_not_an_outcome() -> None:
    # Proposed before the snapshot: for the "proposed" outcome this candidate is past it, not a hit.
    events = [click("003A", -10), step("003A", "Voorgesteld", -2), step("003A", "Aangenomen", 40)]
    by_contact = [("003A", [record_of(e) for e in events])]
    proposed = observe(by_contact, [RULE_SET], [SNAP], outcome_steps(Medals(), "proposed"), HORIZON)[0]
    assert proposed == []
    # For "placed" it is in, and the placement after the horizon does not count either.
    (placed,) = observations(events)
    assert placed.outcome is False


def test_the_outcome_counts_only_within_the_horizon_after_the_snapshot() -> None:
    found = observations(
        [
            click("003A", -3),
            step("003A", "Aangenomen", 29.9),
            click("003B", -3),
            step("003B", "Aangenomen", 30),
        ]
    )
    assert {o.contact_id: o.outcome for o in found} == {"003A": True, "003B": False}


def test_events_after_the_snapshot_do_not_change_its_scores() -> None:
    before = [click("003A", -3), step("003A", "Intake verwerkt", -2)]
    later = [click("003A", 0), click("003A", 1), step("003A", "Intake verwerkt", 5)]
    (alone,) = observations(before)
    (with_later,) = observations(before + later)
    assert alone.score == with_later.score == 40
    assert alone.band == with_later.band


def test_a_contact_without_events_before_the_snapshot_is_not_in_it() -> None:
    assert observations([click("003A", 1), step("003A", "Aangenomen", 2)]) == []


def test_a_non_candidate_is_not_evaluated() -> None:
    client = make_event("003C", "contact.updated", at(-9), {"kind": "contact_person"})
    assert observations([client, click("003C", -3)]) == []


def test_snapshots_end_where_the_horizon_would_pass_now() -> None:
    times = snapshot_times(SNAP.date(), at(44), timedelta(days=7), HORIZON, "UTC")
    assert times == [SNAP, at(7), at(14)]


def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson(10, 100)
    assert (round(low, 4), round(high, 4)) == (0.0552, 0.1744)
    assert wilson(0, 20)[0] == 0.0


def _obs(score: int, outcome: bool, index: int = 0) -> Observation:
    return Observation(SNAP, f"003{index}", score, "cold", outcome)


def test_auc_orders_ties_as_half() -> None:
    perfect = [_obs(10, True, i) for i in range(10)] + [_obs(0, False, i) for i in range(10)]
    assert auc(perfect) == 1.0
    tied = [_obs(5, True, i) for i in range(10)] + [_obs(5, False, i) for i in range(10)]
    assert auc(tied) == 0.5
    assert auc(perfect[:15]) is None  # five non-outcomes: not enough data


def test_gains_and_deciles_split_equal_scores_evenly() -> None:
    rows = [_obs(1, i < 20, i) for i in range(200)]  # every score equal: no order at all
    assert gains(rows) == [(0, 0), (200, 20)]
    result = summarise(rows)
    assert result.deciles is not None
    assert result.deciles == pytest.approx([0.1] * 10)
    assert result.top_decile_lift == pytest.approx(1.0)


def test_band_rows_sum_to_the_population_and_say_not_enough_data() -> None:
    rows = [Observation(SNAP, f"003{i}", 50, "hot", i % 2 == 0) for i in range(MIN_BAND)]
    rows += [Observation(SNAP, f"004{i}", 0, EMPTY, False) for i in range(5)]
    result = summarise(rows)
    by_band = {row.band: row for row in result.bands}
    assert sum(row.n for row in result.bands) == result.n == MIN_BAND + 5
    assert by_band["hot"].rate == 0.5
    assert by_band["hot"].lift == pytest.approx(0.5 / (15 / 35))
    assert by_band[EMPTY].rate is None  # 5 observations: below the minimum


def test_scores_that_follow_the_outcome_give_a_high_auc_random_ones_about_half() -> None:
    rng = random.Random(7)
    events: list[Event] = []
    for i in range(400):
        contact = f"003{i:04d}"
        engaged = rng.random() < 0.4
        events += [click(contact, -rng.uniform(1, 20)) for _ in range(rng.randint(2, 5) if engaged else 1)]
        if rng.random() < (0.5 if engaged else 0.05):
            events.append(step(contact, "Aangenomen", rng.uniform(0, 29)))
    found = observations(events)
    assert len(found) == 400
    result = summarise(found)
    assert result.auc is not None
    assert result.auc > 0.75
    shuffled = [Observation(o.snapshot, o.contact_id, rng.randint(0, 100), o.band, o.outcome) for o in found]
    noise = auc(shuffled)
    assert noise is not None
    assert abs(noise - 0.5) < 0.08
