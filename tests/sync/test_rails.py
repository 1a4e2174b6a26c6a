"""Safety rails: dry-run writes nothing, a large rule change stops unless forced, the ledger knows its org."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connector.config import Settings, load_settings
from connector.config.sync import SyncSettings
from connector.errors import FatalError
from connector.shell.cycle import run_cycle
from connector.shell.status import status_facts

from .conftest import EXAMPLE, Org


def test_dry_run_prints_the_plan_and_writes_nothing(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    org.em.org.apply(candidate, job, "Intake verwerkt")
    org.em.org.reset_calls()
    report = org.cycle(dry_run=True)
    assert report.status == "dry_run"
    assert [p.values["medal"] for p in report.plan] == ["bronze"]
    assert org.write_calls() == 0, org.em.org.call_counts()
    assert org.contact(candidate)["Medal__c"] is None


def strict_org(make_org: Callable[..., Org], people: int = 5) -> tuple[Org, list[str], str]:
    """The example config with the rail from the first contact on, and candidates at Intake verwerkt."""
    strict = load_settings(EXAMPLE).model_copy(update={"sync": SyncSettings(max_change_min_contacts=0)})
    org = make_org(strict)
    job = org.job()
    candidates = [org.candidate(f"C{i}") for i in range(people)]
    for person in candidates:
        org.em.org.apply(person, job, "Intake verwerkt")
    assert org.cycle().status == "ok"  # the first backfill sets the rules in force
    return org, candidates, job


def with_points(org: Org, rule: str, points: int) -> Settings:
    """The org's settings with one rule's points changed."""
    scoring = org.settings.scoring
    rules = tuple(r.model_copy(update={"points": points}) if r.name == rule else r for r in scoring.rules)
    return org.settings.model_copy(update={"scoring": scoring.model_copy(update={"rules": rules})})


def test_new_activity_in_every_contact_is_written_without_force(make_org: Callable[..., Org]) -> None:
    org, people, _ = strict_org(make_org)
    for application in org.em.org.records("msf__Job_Application__c"):
        org.em.org.move_application(application["Id"], "Voorgesteld")
    assert org.cycle().status == "ok"
    assert {org.contact(p)["Medal__c"] for p in people} == {"Silver"}


def test_a_rule_change_above_the_share_is_held_back_by_name_until_forced(
    make_org: Callable[..., Org],
) -> None:
    org, people, job = strict_org(make_org)
    before = {p: org.contact(p)["Lead_Score__c"] for p in people}
    org.settings = with_points(org, "intake", 45)
    newcomer = org.candidate("Nieuw")
    org.em.org.apply(newcomer, job, "Intake verwerkt")
    held = org.cycle()
    assert held.status == "stopped"
    assert "intake (changed)" in held.reason
    assert "msr-engage simulate" in held.reason
    assert {p: org.contact(p)["Lead_Score__c"] for p in people} == before
    # New activity is not held back: the newcomer's medal and score (under the rules in force) arrive.
    assert org.contact(newcomer)["Medal__c"] == "Bronze"
    assert org.contact(newcomer)["Lead_Score__c"] == 30
    assert org.cycle().status == "stopped"  # still held, still named

    forced = org.cycle(force=True)
    assert forced.status == "ok"
    assert {org.contact(p)["Lead_Score__c"] for p in [*people, newcomer]} == {45}
    audit = status_facts(org.ledger)["Rule sets applied"]
    assert len(audit) == 2
    assert "6 contacts changed, forced" in str(audit[0][1])
    assert org.cycle().status == "ok"


def test_a_forced_dry_run_leaves_a_large_rule_change_held_back(make_org: Callable[..., Org]) -> None:
    org, people, _ = strict_org(make_org)
    before = {p: org.contact(p)["Lead_Score__c"] for p in people}
    org.settings = with_points(org, "intake", 45)
    preview = org.cycle(dry_run=True, force=True)  # "what would --force write?"
    assert {p.values.get("score") for p in preview.plan} == {45}
    assert len(status_facts(org.ledger)["Rule sets applied"]) == 1  # nothing applied by a preview
    held = org.cycle()
    assert held.status == "stopped"
    assert {p: org.contact(p)["Lead_Score__c"] for p in people} == before


def test_a_rule_change_that_moves_no_score_band_or_medal_is_not_held_back(
    make_org: Callable[..., Org],
) -> None:
    org, people, _ = strict_org(make_org)
    before = {
        r["Date_Next_Lapse__c"] for r in org.em.org.records("Lead_Score_Line__c") if r["Rule__c"] == "intake"
    }
    scoring = org.settings.scoring
    longer = tuple(
        r.model_copy(update={"valid_days": 120}) if r.name == "intake" else r for r in scoring.rules
    )
    org.settings = org.settings.model_copy(update={"scoring": scoring.model_copy(update={"rules": longer})})
    changed = org.cycle()
    assert changed.status == "ok"  # every contact's lapse date and explanation change; no score moves
    assert {org.contact(p)["Lead_Score__c"] for p in people} == {30}
    lapses = {
        r["Date_Next_Lapse__c"] for r in org.em.org.records("Lead_Score_Line__c") if r["Rule__c"] == "intake"
    }
    assert len(lapses) == 1
    assert lapses != before  # the new valid_days reached the org
    assert all("until" in str(org.contact(p)["Lead_Score_Explanation__c"]) for p in people)


def test_a_small_rule_change_applies_in_the_next_cycle(make_org: Callable[..., Org]) -> None:
    org, people, _ = strict_org(make_org)
    lenient = with_points(org, "intake", 35)
    org.settings = lenient.model_copy(update={"sync": SyncSettings(max_change_share=1.0)})
    assert org.cycle().status == "ok"
    assert {org.contact(p)["Lead_Score__c"] for p in people} == {35}
    audit = status_facts(org.ledger)["Rule sets applied"]
    assert "5 contacts changed" in str(audit[0][1])
    assert "forced" not in str(audit[0][1])


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


def test_a_retried_dead_letter_is_re_scored_at_the_next_cycle_not_resent_as_refused(org: Org) -> None:
    from connector.ledger.sync_state import dead_letters
    from connector.shell.apply import retry_dead_letters

    blocked, job = org.candidate("Blocked"), org.job()
    org.em.org.apply(blocked, job, "Intake verwerkt")
    org.em.org.faults.reject_records({blocked})
    assert org.cycle().dead == 1
    (letter,) = dead_letters(org.ledger)
    assert letter.payload["Lead_Score__c"] == 30
    org.cycle(after_seconds=91 * 86400)  # a poll: the intake points expired meanwhile
    org.em.org.faults.clear()
    assert retry_dead_letters(org.ledger) == 1
    org.cycle()
    assert (org.contact(blocked)["Lead_Score__c"], org.contact(blocked)["Medal__c"]) == (0, "Bronze")


def test_a_dry_run_leaves_the_ledger_s_scores_history_and_rules_as_it_found_them(
    make_org: Callable[..., Org],
) -> None:
    org, people, job = strict_org(make_org)
    org.em.org.apply(people[0], job, "Voorgesteld")

    def snapshot() -> tuple[object, ...]:
        db = org.ledger.db
        return (
            db.execute("SELECT * FROM contact_state ORDER BY contact_id").fetchall(),
            db.execute("SELECT count(*) FROM score_passes").fetchone()[0],
            db.execute("SELECT count(*) FROM contact_history").fetchone()[0],
            db.execute("SELECT count(*) FROM rule_sets").fetchone()[0],
        )

    before = snapshot()
    preview = org.cycle(kind="daily", dry_run=True)
    assert preview.planned >= 1  # the new step shows in the plan
    assert snapshot() == before  # and nothing of the scoring stays: no state, no pass, no history row
    real = org.cycle(kind="daily")
    assert real.status == "ok"
    assert org.contact(people[0])["Medal__c"] == "Silver"  # the real cycle still sees and writes it
    assert snapshot() != before
