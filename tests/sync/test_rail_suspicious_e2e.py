"""What else the rail treats as suspicious, across days on a test clock: a change of the scoring
engine (a connector upgrade) counts as a rule change; a clock that went back stops the cycle."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connector.scoring import rulesets
from connector.shell.status import status_facts

from .conftest import Org
from .test_rails import strict_org, with_points

DAY = 24 * 3600


def test_an_engine_upgrade_alone_is_applied_and_audited_by_name(
    make_org: Callable[..., Org], monkeypatch: pytest.MonkeyPatch
) -> None:
    org, people, _ = strict_org(make_org)
    before = {p: org.contact(p)["Lead_Score__c"] for p in people}
    org.cycle(after_seconds=DAY)  # a day later under the old engine
    monkeypatch.setattr(rulesets, "ENGINE_VERSION", rulesets.ENGINE_VERSION + 1)
    upgraded = org.cycle(after_seconds=DAY)
    assert upgraded.status == "ok"  # the same rules score the same: nothing moved, it applies
    assert {p: org.contact(p)["Lead_Score__c"] for p in people} == before
    audit = status_facts(org.ledger)["Rule sets applied"]
    assert len(audit) == 2  # the baseline, then the upgrade's own row
    assert "0 contacts changed" in str(audit[0][1])


def test_an_engine_upgrade_that_moves_many_scores_is_held_back_naming_the_engine(
    make_org: Callable[..., Org], monkeypatch: pytest.MonkeyPatch
) -> None:
    org, people, job = strict_org(make_org)
    before = {p: org.contact(p)["Lead_Score__c"] for p in people}
    version = rulesets.ENGINE_VERSION
    monkeypatch.setattr(rulesets, "ENGINE_VERSION", version + 1)
    org.settings = with_points(org, "intake", 45)  # what the upgrade scores differently
    newcomer = org.candidate("Nieuw")
    org.em.org.apply(newcomer, job, "Intake verwerkt")
    held = org.cycle(after_seconds=DAY)
    assert held.status == "stopped"
    assert f"the scoring engine changed (version {version} → {version + 1})" in held.reason
    assert {p: org.contact(p)["Lead_Score__c"] for p in people} == before
    assert org.contact(newcomer)["Medal__c"] == "Bronze"  # new activity is never held back
    assert org.cycle(after_seconds=DAY, force=True).status == "ok"
    assert {org.contact(p)["Lead_Score__c"] for p in people} == {45}


def test_a_clock_that_went_back_stops_the_cycle_and_undoes_no_decay(make_org: Callable[..., Org]) -> None:
    org, people, _ = strict_org(make_org)
    for _ in range(3):  # three nightly passes on consecutive days
        assert org.cycle(after_seconds=DAY, kind="daily").status == "ok"
    scores = {p: org.contact(p)["Lead_Score__c"] for p in people}
    org.em.org.advance(-2 * DAY)  # someone set the clock two days back
    back = org.cycle(after_seconds=60, kind="daily")
    assert back.status == "stopped"
    assert "the clock went back" in back.reason
    assert "would undo expiry and decay" in back.reason
    assert {p: org.contact(p)["Lead_Score__c"] for p in people} == scores
    org.em.org.advance(2 * DAY)  # the clock is right again: cycles go on
    assert org.cycle(after_seconds=60, kind="daily").status == "ok"


def test_a_small_clock_adjustment_is_no_alarm(org: Org) -> None:
    candidate, job = org.candidate(), org.job()
    org.em.org.apply(candidate, job, "Intake verwerkt")
    assert org.cycle().status == "ok"
    org.em.org.advance(-120)  # NTP steps the clock back two minutes
    assert org.cycle(after_seconds=1).status == "ok"
