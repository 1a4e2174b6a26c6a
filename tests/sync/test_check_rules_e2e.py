"""`check` on the rules, against the emulator over HTTPS: what would fail later fails now, with the reason."""

from __future__ import annotations

from connector.config import Medals, Rule, Scoring
from connector.sf.rules_check import check_rules

from .conftest import Org


def failures(org: Org, scoring: Scoring, medals: Medals | None = None) -> dict[str, tuple[str, str]]:
    """The failed rows of the rules check, by config key: what was found and what to do."""
    assert org.settings.salesforce is not None
    rows = check_rules(org.client.describe, scoring, medals or Medals(), org.settings.salesforce.objects)
    return {row.item: (row.detail, row.fix) for row in rows if not row.ok}


def test_the_example_rules_pass(org: Org) -> None:
    assert failures(org, org.settings.scoring, org.settings.medals) == {}


def test_a_medal_step_in_the_wrong_case_fails_and_suggests_the_org_value(org: Org) -> None:
    found = failures(org, Scoring(), Medals(bronze=("Intake Verwerkt",)))
    assert found["medals.bronze"] == (
        "'Intake Verwerkt' is not a value of msf__Step__c",
        "did you mean 'Intake verwerkt'?",
    )


def test_a_rule_name_longer_than_the_score_line_field_fails(org: Org) -> None:
    long = Rule(name="x" * 300, event="email.opened", points=1)
    detail, fix = failures(org, Scoring(rules=(long,)))[f"scoring.rules.{long.name}.name"]
    assert "300 characters" in detail
    assert "at most" in fix


def test_a_rule_on_an_unknown_event_kind_fails_listing_the_known_kinds(org: Org) -> None:
    odd = Rule(name="odd", event="email.bounced", points=1)
    detail, fix = failures(org, Scoring(rules=(odd,)))["scoring.rules.odd.event"]
    assert "'email.bounced'" in detail
    assert "email.opened" in fix


def test_a_rule_step_the_picklist_lacks_fails(org: Org) -> None:
    typo = Rule(name="typo", event="application.step", where={"step": ["Intake"]}, points=1)
    detail, fix = failures(org, Scoring(rules=(typo,)))["scoring.rules.typo.where.step"]
    assert "'Intake' is not a value" in detail
    assert "Intake verwerkt" in fix
