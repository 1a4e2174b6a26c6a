"""Score history: the nightly pass notes what each contact shows; `history` prints one row per pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector import paths
from connector.config import Medals, Rule, Scoring, Settings
from connector.details import ErasureReason
from connector.entry.cli import main
from connector.events import make_event
from connector.ledger import Ledger
from connector.ledger.erasure import erase_contacts
from connector.ledger.history import history_of, record_pass
from connector.shell.rules import score_under_rail

NOW = datetime(2026, 6, 1, 2, tzinfo=UTC)
RULES = (Rule(name="click", event="email.clicked", points=10, valid_days=2),)
SETTINGS = Settings(scoring=Scoring(rules=RULES, timezone="UTC"), medals=Medals())


def nightly(ledger: Ledger, day: int) -> None:
    score_under_rail(ledger, SETTINGS, NOW + timedelta(days=day), everyone=True, force=False, first=False)


def test_each_nightly_pass_gives_a_row_and_only_changes_are_stored(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append([make_event("003A", "email.clicked", NOW - timedelta(hours=1))])
        ledger.append([make_event("003B", "email.clicked", NOW - timedelta(hours=1))])
        for day in range(4):
            if day == 1:
                ledger.append([make_event("003A", "email.clicked", NOW + timedelta(days=1, hours=-1))])
            nightly(ledger, day)
        # A poll cycle (not everyone) notes nothing.
        score_under_rail(ledger, SETTINGS, NOW + timedelta(days=3, hours=1), everyone=False, force=False,
                         first=False)  # fmt: skip
        rows = history_of(ledger, "003A")
        assert [r.at for r in rows] == [NOW + timedelta(days=d) for d in range(4)]
        assert [r.score for r in rows] == [10, 20, 10, 0]
        assert [r.band for r in rows] == ["cold", "cold", "cold", "cold"]
        stored = ledger.db.execute(
            "SELECT count(*) FROM contact_history WHERE contact_id = '003B'"
        ).fetchone()
        assert [r.score for r in history_of(ledger, "003B")] == [10, 10, 0, 0]
        assert stored[0] == 2  # 10, then 0: unchanged passes add no row
        assert history_of(ledger, "003Z") == []


def test_an_erased_contact_leaves_no_history_and_gets_none(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append([make_event("003A", "email.clicked", NOW - timedelta(hours=1))])
        nightly(ledger, 0)
        erase_contacts(ledger, {"003A": ErasureReason.MANUAL}, NOW)
        assert history_of(ledger, "003A") == []
        ledger.db.execute("INSERT INTO contact_state (contact_id, kind, score, scored_at) VALUES "
                          "('003A', 'candidate', 5, 'x')")  # fmt: skip
        record_pass(ledger, NOW + timedelta(days=1))
        assert history_of(ledger, "003A") == []


def test_history_command_prints_a_table_or_csv(capsys: pytest.CaptureFixture[str]) -> None:
    with Ledger(paths.ledger_path()) as ledger:
        ledger.append([make_event("003A", "email.clicked", NOW - timedelta(hours=1))])
        for day in range(3):
            nightly(ledger, day)
    with pytest.raises(SystemExit) as done:
        main(["history", "003A", "--csv"])
    assert done.value.code in (0, None)
    assert capsys.readouterr().out.splitlines() == [
        "pass_at,score,band,medal",
        "2026-06-01T02:00:00+00:00,10,cold,",
        "2026-06-02T02:00:00+00:00,10,cold,",
        "2026-06-03T02:00:00+00:00,0,cold,",
    ]
    with pytest.raises(SystemExit) as done:
        main(["history", "003A"])
    table = capsys.readouterr().out
    assert "3 nightly passes" in table
    assert "-10" in table
    with pytest.raises(SystemExit) as done:
        main(["history", "003Q"])
    assert done.value.code == 2
    assert "003Q: no score history" in capsys.readouterr().err
