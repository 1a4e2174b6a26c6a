"""Score lines in the ledger: every fact kept, and points-only lines of older versions still load."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from connector.config import ObjectMapping
from connector.details import (
    Band,
    ContactKind,
    LineFacts,
    RecordWrite,
    RecruitmentDetails,
    ShownDetails,
    StoredState,
)
from connector.ledger import Ledger
from connector.ledger.bulk_jobs import PendingJob, PendingWrite
from connector.ledger.sync_state import pending_contacts, save_shown, shown_details
from connector.shell.bulk_jobs import _material
from connector.sync.plan import plan_contact

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DETAILS = RecruitmentDetails(25, Band.LUKEWARM)
INTAKE = LineFacts(30, 1, date(2026, 3, 2), date(2026, 5, 31))
LINES = {"intake": INTAKE, "inactivity": LineFacts(-5)}
STATE = StoredState("003A", ContactKind.CANDIDATE, DETAILS, date(2026, 3, 2), LINES)


def test_every_fact_of_a_line_is_stored_and_shown_as_it_was_saved(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.save_states([STATE], T0)
        save_shown(ledger, [ShownDetails("003A", DETAILS, LINES)], T0)
        assert ledger.states(["003A"])["003A"].lines == LINES
        assert shown_details(ledger)["003A"].lines == LINES
        assert pending_contacts(ledger) == []  # equal lines are equal text, whatever their order


def test_points_only_lines_of_an_older_version_load_and_the_next_plan_writes_the_facts_once(
    tmp_path: Path,
) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.save_states([STATE], T0)
        save_shown(ledger, [ShownDetails("003A", DETAILS, LINES)], T0)
        old = '{"intake": 30, "inactivity": -5}'  # as versions before the facts wrote both columns
        ledger.db.execute("UPDATE contact_state SET lines = ?", [old])
        ledger.db.execute("UPDATE org_details SET lines = ?", [old])
        stored, shown = ledger.states(["003A"])["003A"], shown_details(ledger)["003A"]
        assert stored.lines == shown.lines == {"intake": LineFacts(30), "inactivity": LineFacts(-5)}
        assert plan_contact(stored, shown).lines == {}  # unknown on both sides: nothing to write yet

        ledger.save_states([STATE], T0)  # the next re-score knows the facts
        ((state, org),) = pending_contacts(ledger)
        plan = plan_contact(state, org)
        assert plan.lines == {"intake": INTAKE}  # the inactivity line has no facts: nothing changed
        save_shown(ledger, [ShownDetails("003A", DETAILS, {**shown.lines, **plan.lines})], T0)
        assert pending_contacts(ledger) == []


def test_a_bulk_job_recorded_before_the_facts_confirms_its_points() -> None:
    sl = ObjectMapping().score_line
    write = RecordWrite(sl.object, sl.external_id, "003A:intake", {}, parent="003A")
    old = PendingJob(
        "750A", sl.object, sl.external_id, T0, (PendingWrite(write, {"rule": "intake", "points": 30}),)
    )
    ((plan,), _) = _material(old, ObjectMapping())
    assert plan.lines == {"intake": LineFacts(30)}
