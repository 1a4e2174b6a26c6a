"""The scoring shell over a real ledger: incremental and full re-score, explain, simulate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from connector.config import Medals, Rule, Scoring, Settings
from connector.details import Band, Medal, RecruitmentDetails, ShownDetails
from connector.events import make_event
from connector.ledger import Ledger
from connector.ledger.sync_state import save_shown
from connector.shell.rescore import explain, rescore, simulate

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
RULES = (
    Rule(name="intake", event="application.step", where={"step": ["Intake verwerkt"]}, points=30),
    Rule(name="open", event="email.opened", points=5),
)
SETTINGS = Settings(scoring=Scoring(rules=RULES), medals=Medals())


def step(contact: str, name: str, days_ago: int) -> object:
    return make_event(contact, "application.step", NOW - timedelta(days=days_ago), {"step": name})


def test_incremental_rescore_touches_only_contacts_with_new_events(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append([step(f"003{i}", "Intake verwerkt", 5) for i in range(10)])
        assert rescore(ledger, SETTINGS, NOW).scored == 10
        ledger.append([make_event("0033", "email.opened", NOW - timedelta(days=1))])
        result = rescore(ledger, SETTINGS, NOW)
        assert (result.scored, result.changed) == (1, 1)
        assert ledger.states(["0033"])["0033"].details.score == 35
        assert rescore(ledger, SETTINGS, NOW).scored == 0
        assert rescore(ledger, SETTINGS, NOW, everyone=True).scored == 10


def test_rescore_with_new_rules_never_lowers_a_stored_medal(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append([step("003A", "Aangenomen", 3)])
        rescore(ledger, SETTINGS, NOW)
        stricter = Settings(scoring=SETTINGS.scoring, medals=Medals(gold=("Contract getekend",)))
        rescore(ledger, stricter, NOW + timedelta(days=1), everyone=True)
        details = ledger.states(["003A"])["003A"].details
        assert details.medal is Medal.GOLD
        assert details.first_placed_on == (NOW - timedelta(days=3)).date()


def test_rescore_keeps_a_medal_the_org_shows_but_no_event_earned(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append([step("003A", "Intake verwerkt", 3)])
        gold_by_hand = RecruitmentDetails(30, Band.LUKEWARM, Medal.GOLD, date(2025, 1, 1), date(2025, 2, 1))
        save_shown(ledger, [ShownDetails("003A", gold_by_hand)], NOW)
        rescore(ledger, SETTINGS, NOW)
        details = ledger.states(["003A"])["003A"].details
        assert (details.medal, details.first_qualified_on, details.first_placed_on) == (
            Medal.GOLD, date(2025, 1, 1), date(2025, 2, 1))  # fmt: skip
        assert details.score == 30  # the score is ours: the org's value never replaces it


def test_explain_shows_lines_and_unknown_contact_is_none(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append([step("003A", "Intake verwerkt", 2), make_event("003A", "email.opened", NOW)])
        state = explain(ledger, SETTINGS, "003A", NOW)
        assert state is not None
        assert {line.name: line.points for line in state.lines} == {"intake": 30, "open": 5}
        assert explain(ledger, SETTINGS, "003Z", NOW) is None


def test_simulate_reports_shifts_and_writes_nothing(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append([step(f"003{i}", "Intake verwerkt", 2) for i in range(4)])
        ledger.append([make_event("0039", "email.opened", NOW)])
        rescore(ledger, SETTINGS, NOW)
        before = ledger.states()
        generous = Rule(
            name="intake", event="application.step", where={"step": ["Intake verwerkt"]}, points=80
        )
        proposed = Settings(scoring=Scoring(rules=(generous, RULES[1])), medals=Medals(bronze=()))
        sim = simulate(ledger, SETTINGS, proposed, NOW)
        assert sim.contacts == 5
        assert sim.band_shifts[("lukewarm", "hot")] == 4
        assert sim.band_shifts[("cold", "cold")] == 1
        assert sim.medals_lowered == 0  # bronze removed from config, but stored medals stay
        assert [c.delta for c in sim.largest] == [50, 50, 50, 50]
        assert ledger.states() == before
