"""The trend and the last engagement on the Contact: from the events and `now` alone."""

from __future__ import annotations

from datetime import date, timedelta

from connector.config import Inactivity
from connector.details import Band

from .helpers import NOW, STEP_RULES, at, ev, rule, score, step

RULES = (*STEP_RULES, rule("opened", "email.opened", 5), rule("bounced", "email.bounced", -10))


def test_a_band_reached_within_the_last_7_days_is_heating_up() -> None:
    d = score([step("Intake verwerkt", at("06-27"))], RULES).details
    assert (d.band, d.heating_up) == (Band.LUKEWARM, True)
    assert (d.last_engaged_on, d.last_engaged_by) == (date(2026, 6, 27), "intake")


def test_the_same_band_as_7_days_ago_is_not_heating_up() -> None:
    d = score([step("Intake verwerkt", at("06-10"))], RULES).details
    assert (d.band, d.heating_up) == (Band.LUKEWARM, False)


def test_a_rise_from_lukewarm_to_warm_this_week_is_heating_up() -> None:
    events = [step("Intake verwerkt", at("06-10")), step("Voorgesteld", at("06-29"))]
    d = score(events, RULES).details
    assert (d.band, d.heating_up, d.last_engaged_by) == (Band.WARM, True, "proposed")


def test_the_flag_lapses_7_days_after_the_rise() -> None:
    events = [step("Intake verwerkt", at("06-27"))]  # NOW is 06-30 12:00
    assert score(events, RULES, at("07-04", "09:59")).details.heating_up is True
    assert score(events, RULES, at("07-04", "10:00")).details.heating_up is False


def test_a_cold_contact_with_points_is_never_heating_up() -> None:
    d = score([ev("email.opened", at("06-29"))], RULES).details
    assert (d.score, d.band, d.heating_up) == (5, Band.COLD, False)
    assert (d.last_engaged_on, d.last_engaged_by) == (date(2026, 6, 29), "opened")


def test_a_penalty_event_is_no_engagement_and_a_future_event_is_ignored() -> None:
    events = [
        step("Intake verwerkt", at("06-20")),
        ev("email.bounced", at("06-25")),
        ev("email.opened", at("07-05")),  # after NOW
    ]
    d = score(events, RULES).details
    assert (d.last_engaged_on, d.last_engaged_by) == (date(2026, 6, 20), "intake")


def test_a_cooling_contact_is_not_heating_up() -> None:
    # Intake 100 days ago lapsed (valid 90 days) within the week: lukewarm then, nothing now.
    events = [step("Intake verwerkt", NOW - timedelta(days=95)), ev("email.opened", at("06-29"))]
    d = score(events, RULES).details
    assert (d.band, d.heating_up) == (Band.COLD, False)


def test_the_explanation_lists_points_largest_first_with_their_next_lapse_then_inactivity() -> None:
    events = [
        step("Intake verwerkt", at("06-10")),
        step("Voorgesteld", at("06-12")),
        ev("email.opened", at("06-11")),
    ]
    d = score(
        events, RULES, at("07-20"), inactivity=Inactivity(after_days=30, every_days=7, points=-5)
    ).details
    assert (
        d.explanation
        == "Intake 30 until 2026-09-08 · Proposed 25 until 2026-09-10 · Opened 5 · Inactivity \u221210"
    )  # 07-12, 07-19
    assert d.score == 50


def test_an_explanation_never_passes_255_characters_and_says_what_it_left_out() -> None:
    many = tuple(rule(f"rule_{i:02}_{'x' * 20}", f"custom.e{i}", 30 - i) for i in range(20))
    d = score([ev(f"custom.e{i}", at("06-20")) for i in range(20)], many).details
    assert d.explanation is not None
    assert len(d.explanation) <= 255
    assert d.explanation.startswith("Rule 00 " + "x" * 20 + " 30 · ")
    assert d.explanation.endswith(" more")
    kept = d.explanation.count(" · ")
    assert d.explanation.endswith(f"+{20 - kept} more")


def test_no_points_no_explanation() -> None:
    assert score([ev("email.opened", at("06-29"))], STEP_RULES).details.explanation is None


def test_a_band_that_rose_only_because_a_penalty_lapsed_is_not_heating_up() -> None:
    lapsing = (
        *STEP_RULES,
        rule("opened", "email.opened", 5),
        rule("bounced", "email.bounced", -10, valid_days=10),
    )
    events = [step("Intake verwerkt", at("06-01")), ev("email.bounced", at("06-15"))]  # lapses 06-25
    assert score(events, lapsing, NOW - timedelta(days=7)).details.band is Band.COLD  # 20
    quiet = score(events, lapsing).details
    assert (quiet.score, quiet.band, quiet.heating_up) == (30, Band.LUKEWARM, False)
    engaged = score([*events, ev("email.opened", at("06-29"))], lapsing).details
    assert (engaged.band, engaged.heating_up) == (Band.LUKEWARM, True)


def test_a_contact_person_who_became_a_candidate_is_compared_with_what_the_person_rules_gave() -> None:
    """7 days ago the contact was a contact person: candidate-only points did not count then."""
    rules = (
        rule("visit", "web.visit", 3, valid_days=20),
        rule("visit_candidate", "web.visit", 30, valid_days=30, applies_to=("candidate",)),
        rule("opened", "email.opened", 2),
    )
    events = [
        ev("contact.updated", at("06-01"), kind="contact_person"),
        ev("web.visit", at("06-20")),  # 3 as a person; 33 under the candidate rules it has now
        ev("contact.updated", at("06-27"), kind="candidate"),
        ev("email.opened", at("06-29")),
    ]
    d = score(events, rules).details
    assert (d.score, d.band) == (35, Band.LUKEWARM)
    assert d.heating_up is True  # cold (3) as the person it was, lukewarm now
