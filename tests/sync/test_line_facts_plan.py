"""The plan writes a score line when any of its facts differs from what the org shows, and only then."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from connector.config import ObjectMapping
from connector.config.scoring import Bands
from connector.details import Band, ContactKind, LineFacts, RecruitmentDetails, ShownDetails, StoredState
from connector.sync.plan import line_writes, plan_contact, settle_refused

M = ObjectMapping()
DETAILS = RecruitmentDetails(35, Band.LUKEWARM)
INTAKE = LineFacts(30, 1, date(2026, 3, 2), date(2026, 5, 31))
CLICK = LineFacts(5, 1, date(2026, 3, 9), date(2026, 4, 8))
STATE = StoredState(
    "003A", ContactKind.CANDIDATE, DETAILS, date(2026, 3, 9), {"intake": INTAKE, "click": CLICK}
)
SHOWN = ShownDetails("003A", DETAILS, {"intake": INTAKE, "click": CLICK})


def test_lines_the_org_shows_with_every_fact_write_nothing() -> None:
    assert plan_contact(STATE, SHOWN).lines == {}


@pytest.mark.parametrize(
    "changed",
    [
        replace(CLICK, events=2),
        replace(CLICK, last_event_on=date(2026, 3, 10)),
        replace(CLICK, lapses_on=None),
        replace(CLICK, points=10),
    ],
)
def test_one_changed_fact_writes_that_line_alone(changed: LineFacts) -> None:
    state = replace(STATE, lines={"intake": INTAKE, "click": changed})
    assert plan_contact(state, SHOWN).lines == {"click": changed}


def test_a_line_write_carries_every_fact_in_the_orgs_fields() -> None:
    (write,) = line_writes([plan_contact(STATE, replace(SHOWN, lines={"click": CLICK}))], M)
    assert write.values == {
        "Contact__c": "003A", "Rule__c": "intake", "Points__c": 30,
        "Event_Count__c": 1, "Date_Last_Event__c": date(2026, 3, 2), "Date_Next_Lapse__c": date(2026, 5, 31),
    }  # fmt: skip


def test_a_line_the_org_shows_without_facts_is_written_once_with_them() -> None:
    # What a ledger from before the facts holds: points only, the facts None.
    old = replace(SHOWN, lines={"intake": LineFacts(30), "click": LineFacts(5)})
    plan = plan_contact(STATE, old)
    assert plan.lines == {"intake": INTAKE, "click": CLICK}
    assert plan_contact(STATE, replace(old, lines={**old.lines, **plan.lines})).lines == {}


def test_a_vanished_rule_is_written_as_an_empty_line_once() -> None:
    shown = replace(SHOWN, lines={**SHOWN.lines, "open": LineFacts(2, 1, date(2026, 3, 1), None)})
    plan = plan_contact(STATE, shown)
    assert plan.lines == {"open": LineFacts(0)}
    assert plan_contact(STATE, replace(shown, lines={**shown.lines, **plan.lines})).lines == {}


def test_a_refused_line_leaves_the_total_at_what_the_org_lines_add_up_to() -> None:
    lines = {"intake": replace(INTAKE, events=2, points=60), "click": replace(CLICK, points=10)}
    plan = plan_contact(
        replace(STATE, details=replace(DETAILS, score=70, band=Band.WARM), lines=lines), SHOWN
    )
    settled = settle_refused(plan, SHOWN, {"click"}, Bands())
    assert settled.values == {"score": 65, "band": Band.WARM}  # 60 written + the 5 the org still shows
