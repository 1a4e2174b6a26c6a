"""Each semantic rule of the scoring issue, pinned with literal events."""

from __future__ import annotations

from datetime import date

import pytest

from connector.config import Inactivity, Medals
from connector.details import Band, LineFacts, Medal, RecruitmentDetails, keep_monotone

from .helpers import NOW, STEP_RULES, at, ev, rule, score, step


def test_worked_example_from_the_product_page() -> None:
    # Websollicitatie earns nothing: the new candidate's details stay empty.
    events = [step("Websollicitatie", at("06-01"))]
    assert score(events).details.is_empty

    events.append(step("Intake verwerkt", at("06-02")))
    after_intake = score(events).details
    assert after_intake.medal is Medal.BRONZE
    assert after_intake.first_qualified_on == date(2026, 6, 2)
    assert after_intake.band is Band.LUKEWARM
    assert after_intake.first_placed_on is None

    events.append(step("Voorgesteld", at("06-10")))
    after_proposal = score(events).details
    assert after_proposal.medal is Medal.SILVER
    assert after_proposal.band is Band.WARM

    events.append(step("Aangenomen", at("06-20")))
    hired = score(events).details
    assert hired.medal is Medal.GOLD
    assert hired.first_placed_on == date(2026, 6, 20)
    assert hired.first_qualified_on == date(2026, 6, 2)
    assert hired.band is Band.HOT

    events.append(step("Afgewezen", at("06-25")))
    assert score(events).details.medal is Medal.GOLD


def test_medal_is_never_lowered_by_a_later_lower_step() -> None:
    events = [step("Voorgesteld", at("06-01")), step("Intake verwerkt", at("06-05"), app="a0C2")]
    assert score(events).details.medal is Medal.SILVER


def test_match_step_leaves_details_empty() -> None:
    assert score([step("Match", at("06-01"))]).details == RecruitmentDetails()


def test_events_after_now_are_ignored() -> None:
    assert score([step("Intake verwerkt", at("07-01"))]).details.is_empty


def test_points_expire_after_valid_days_in_local_dates() -> None:
    r = (rule("open", "email.opened", 10, valid_days=3),)
    # 2026-06-27 23:30 UTC is 06-28 01:30 in Amsterdam: valid while today < 06-28 + 3 = 07-01.
    late_evening = ev("email.opened", at("06-27", "23:30"))
    assert score([late_evening], r).details.score == 10
    assert score([late_evening], r, now=at("07-01", "09:00")).details.score == 0


def test_where_list_means_any_of_and_missing_attribute_does_not_match() -> None:
    r = (rule("steps", "application.step", 5, where={"step": ["A", "B"]}),)
    events = [step("A", at("06-01")), step("B", at("06-02")), step("C", at("06-03"))]
    events.append(ev("application.step", at("06-04"), job_id="x"))
    assert score(events, r).details.score == 10


def test_once_per_day_counts_first_event_of_each_local_day() -> None:
    r = (rule("visit", "web.visit", 2, once_per="day"),)
    events = [ev("web.visit", at("06-01", h), visit_id=h) for h in ("08:00", "09:00", "21:00")]
    events.append(ev("web.visit", at("06-01", "22:30"), visit_id="late"))  # 00:30 on 06-02 locally
    assert score(events, r).details.score == 4


def test_once_per_ever_counts_only_the_first() -> None:
    r = (rule("replied", "email.replied", 10, once_per="ever"),)
    events = [ev("email.replied", at(d), message_id=d) for d in ("06-01", "06-02")]
    state = score(events, r, explain=True)
    assert state.details.score == 10
    assert [e.status for e in state.lines[0].events] == ["counted", "repeat"]


def test_max_points_caps_a_rules_contribution() -> None:
    r = (rule("click", "email.clicked", 5, max_points=12),)
    events = [ev("email.clicked", at(f"06-0{d}"), message_id=str(d)) for d in range(1, 5)]
    state = score(events, r)
    assert state.details.score == 12
    assert state.lines[0].capped


def test_applies_to_restricts_contact_kinds() -> None:
    r = (rule("intake", "application.step", 30, applies_to=["candidate"]),)
    person = ev("contact.updated", at("05-01"), kind="contact_person")
    assert score([person, step("Intake verwerkt", at("06-01"))], r).details.score is None
    assert score([step("Intake verwerkt", at("06-01"))], r).details.score == 30


def test_contact_persons_get_no_medals() -> None:
    r = (rule("open", "email.opened", 3),)
    person = ev("contact.updated", at("05-01"), kind="contact_person")
    state = score([person, ev("email.opened", at("06-01")), step("Aangenomen", at("06-02"))], r)
    assert state.details.medal is None
    assert state.details.first_placed_on is None
    assert state.details.score == 3


DECAY = Inactivity(after_days=14, points=-5, every_days=7, valid_days=30)
OPEN = (rule("open", "email.opened", 50),)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("06-14", 50),  # 13 days inactive: no penalty yet
        ("06-15", 45),  # day 14: first penalty
        ("06-21", 45),
        ("06-22", 40),  # day 21: second
        ("07-14", 25),  # penalties on 06-15, 06-22, 06-29, 07-06, 07-13: all still valid
        ("07-15", 30),  # 06-15's penalty expired (valid 30 days); 07-13 is the newest
    ],
)
def test_inactivity_penalties_fall_on_schedule_and_expire(today: str, expected: int) -> None:
    events = [ev("email.opened", at("06-01"))]
    assert score(events, OPEN, now=at(today, "12:00"), inactivity=DECAY).details.score == expected


def test_no_penalty_once_activity_resumes() -> None:
    events = [ev("email.opened", at("06-01")), ev("email.opened", at("06-20"), message_id="2")]
    state = score(events, (rule("open", "email.opened", 10),), now=at("06-25"), inactivity=DECAY)
    # Penalty on 06-15 (before the 06-20 activity) still counts; none since 06-20 yet.
    assert state.details.score == 15
    assert [line.name for line in state.lines if line.kind == "inactivity"] == ["inactivity 2026-06-15"]


def test_no_penalty_before_first_activity_and_floor_clamps() -> None:
    assert score([step("Match", at("01-01"))], OPEN, inactivity=DECAY).details.is_empty
    state = score(
        [ev("email.opened", at("01-01"))],
        (rule("o", "email.opened", 1, valid_days=1),),
        inactivity=DECAY,
        floor=0,
    )
    assert state.details.score == 0
    assert state.details.band is Band.COLD


def test_floor_lifts_the_penalty_line_so_the_lines_still_add_up() -> None:
    events = [ev("email.opened", at("06-01"))]
    state = score(events, (rule("open", "email.opened", 4),), now=at("06-25"), inactivity=DECAY, floor=0)
    assert state.details.score == 0
    assert state.line_facts() == {
        "open": LineFacts(4, 1, date(2026, 6, 1), None), "inactivity": LineFacts(-4)}  # fmt: skip


def test_only_positive_rules_count_as_activity() -> None:
    r = (rule("open", "email.opened", 20), rule("unsub", "email.unsubscribed", -10))
    events = [ev("email.opened", at("06-01")), ev("email.unsubscribed", at("06-10"))]
    state = score(events, r, now=at("06-16"), inactivity=DECAY)
    assert state.last_activity_on == date(2026, 6, 1)
    assert state.details.score == 5  # 20 - 10 - 5 (penalty on 06-15)


def test_first_qualification_can_be_first_points() -> None:
    r = (rule("open", "email.opened", 3),)
    events = [ev("email.opened", at("05-01")), step("Intake verwerkt", at("06-01"))]
    medals = Medals(first_qualification="first_points")
    assert score(events, r, medals=medals).details.first_qualified_on == date(2026, 5, 1)
    assert score(events, r).details.first_qualified_on == date(2026, 6, 1)


def test_bands_follow_lower_bounds() -> None:
    r = (rule("p", "x", 1),)
    for points, band in (
        (24, Band.COLD),
        (25, Band.LUKEWARM),
        (50, Band.WARM),
        (74, Band.WARM),
        (75, Band.HOT),
    ):
        events = [ev("x", at("06-01", f"{h:02d}:{m:02d}"), n=h * 60 + m) for h in range(3) for m in range(60)]
        assert score(events[:points], r).details.band is band


def test_keep_monotone_never_lowers_stored_medal_or_moves_dates() -> None:
    stored = RecruitmentDetails(50, Band.WARM, Medal.GOLD, date(2026, 1, 1), date(2026, 2, 1))
    fresh = score([step("Intake verwerkt", at("06-01"))])
    merged = keep_monotone(fresh.details, stored)
    assert merged.medal is Medal.GOLD
    assert merged.first_qualified_on == date(2026, 1, 1)
    assert merged.first_placed_on == date(2026, 2, 1)
    assert merged.score == fresh.details.score


def test_explain_lists_events_with_expiry() -> None:
    r = (rule("open", "email.opened", 4, valid_days=10),)
    events = [ev("email.opened", at("06-01"), message_id="old"), ev("email.opened", at("06-25"))]
    line = score(events, r, explain=True).lines[0]
    assert [(e.status, e.points) for e in line.events] == [("expired", 0), ("counted", 4)]
    assert line.expires_on == date(2026, 7, 5)
    assert line.points == 4
    assert NOW.date() == date(2026, 6, 30)


def test_once_per_application_counts_a_step_once_per_application() -> None:
    intake = (
        rule("intake", "application.step", 30, where={"step": ["Intake verwerkt"]}, once_per="application"),
    )
    events = [
        step("Intake verwerkt", at("06-01")),
        step("Voorgesteld", at("06-02")),
        step("Intake verwerkt", at("06-03")),  # moved back: the same application
        step("Intake verwerkt", at("06-04"), app="a0C2"),  # another application earns it again
    ]
    assert score(events, intake, now=at("06-05")).details.score == 60


def test_one_step_read_from_the_record_and_from_its_history_counts_once() -> None:
    from connector.events import make_event

    when = at("06-01")
    attrs = {"step": "Intake verwerkt", "job_id": "a0B1", "application_id": "a0C1"}
    from_record = make_event("003C1", "application.step", when, attrs, id="record-id")
    from_history = make_event("003C1", "application.step", when, attrs, id="old-history-id")
    assert score([from_record, from_history], STEP_RULES, now=at("06-02")).details.score == 30


@pytest.mark.parametrize("reverse", [False, True])
def test_one_e_mails_reply_counts_once_and_the_old_event_is_the_one_counted(reverse: bool) -> None:
    r = (rule("replied", "email.replied", 10, valid_days=30),)
    old = ev("email.replied", at("06-20", "10:05"), message_id="02s1")  # HasReply, read from the e-mail
    new = ev("email.replied", at("06-20", "10:00"), message_id="02s1", reply_id="02s9")  # the reply
    later = ev("email.replied", at("06-21"), message_id="02s1", reply_id="02s8")  # replied to again
    other = ev("email.replied", at("06-22"), message_id="02s2", reply_id="02s7")  # another e-mail
    events = [old, new, later, other]
    state = score(events[::-1] if reverse else events, r, explain=True)
    assert state.details.score == 20
    assert sorted(e.event_id for e in state.lines[0].events) == sorted([old.id, other.id])
    only_new = score([later, new], r, explain=True)  # no old event: the earliest reply counts
    assert (only_new.details.score, [e.event_id for e in only_new.lines[0].events]) == (10, [new.id])
