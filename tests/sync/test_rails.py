"""Safety rails: dry-run writes nothing, a large change stops unless forced, the ledger knows its org."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connector.config import load_settings
from connector.config.sync import SyncSettings
from connector.errors import FatalError
from connector.shell.cycle import run_cycle

from .conftest import EXAMPLE, Org


def test_dry_run_prints_the_plan_and_writes_nothing(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    org.em.org.apply(candidate, job, "Intake verwerkt")
    org.em.org.reset_calls()
    report = org.cycle(dry_run=True)
    assert report.status == "dry_run"
    assert [p.values["medal"] for p in report.plan] == ["bronze"]
    assert not any("composite" in e or "jobs" in e for e in org.em.org.call_counts())
    assert org.contact(candidate)["Medal__c"] is None


def test_a_cycle_changing_too_many_contacts_stops_until_forced(make_org: Callable[..., Org]) -> None:
    strict = load_settings(EXAMPLE).model_copy(update={"sync": SyncSettings(max_change_min_contacts=0)})
    org = make_org(strict)
    job = org.job()
    people = [org.candidate(f"C{i}") for i in range(5)]
    for person in people:
        org.em.org.apply(person, job, "Intake verwerkt")
    assert org.cycle().status == "ok"  # the first backfill is excepted from the rail
    org.cycle()
    for application in org.em.org.records("msf__Job_Application__c"):
        org.em.org.move_application(application["Id"], "Voorgesteld")
    stopped = org.cycle()
    assert stopped.status == "stopped"
    assert "above max_change_share 20%" in stopped.reason
    assert {org.contact(p)["Medal__c"] for p in people} == {"Bronze"}
    forced = org.cycle(force=True)
    assert forced.status == "ok"
    assert {org.contact(p)["Medal__c"] for p in people} == {"Silver"}


def test_ledger_refuses_another_org(make_org: Callable[..., Org]) -> None:
    first, second = make_org(), make_org()
    first.cycle()
    with pytest.raises(FatalError, match="belongs to org"):
        run_cycle(second.client, first.ledger, second.settings, second.em.org.advance(120))


def test_refused_write_is_dead_lettered_skipped_then_retried(org: Org) -> None:
    from connector.ledger.sync_state import clear_dead_letters, dead_letters

    blocked, fine, job = org.candidate("Blocked"), org.candidate("Fine"), org.job()
    for person in (blocked, fine):
        org.em.org.apply(person, job, "Intake verwerkt")
    org.em.org.faults.reject_records({blocked})
    report = org.cycle()
    assert report.dead == 1
    (letter,) = dead_letters(org.ledger)
    assert (letter.contact_id, letter.error_code) == (blocked, "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    assert org.contact(fine)["Medal__c"] == "Bronze"
    org.em.org.reset_calls()
    assert org.cycle().planned == 0  # an open dead letter is not re-sent every cycle
    org.em.org.faults.clear()
    assert clear_dead_letters(org.ledger) == 1
    assert org.cycle().succeeded >= 1
    assert org.contact(blocked)["Medal__c"] == "Bronze"
