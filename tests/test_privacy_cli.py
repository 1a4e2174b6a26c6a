"""The command line of erasure: `ingest` refuses an erased contact; `unerase` lets one start over."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector import paths
from connector.details import ErasureReason
from connector.ledger import Ledger
from connector.ledger.consent import consent_history, web_withdrawn
from connector.ledger.erasure import erase_contacts, tombstones
from tests.test_cli import LINES, run, write

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_ingest_refuses_the_events_of_an_erased_contact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger(paths.ledger_path()) as ledger:
        erase_contacts(ledger, {"003A": ErasureReason.DELETED}, T0)
    run(capsys, "ingest", str(write(tmp_path / "e.ndjson", LINES)))
    with Ledger(paths.ledger_path()) as ledger:
        assert set(ledger.events_of(["003A", "003B"])) == {"003B"}


def test_unerase_lifts_the_tombstone_so_events_are_taken_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger(paths.ledger_path()) as ledger:
        erase_contacts(ledger, {"003A": ErasureReason.DELETED}, T0)
    code, out, _ = run(capsys, "unerase", "003A")
    assert code == 0
    assert "003A may be read again" in out
    run(capsys, "ingest", str(write(tmp_path / "e.ndjson", LINES)))
    with Ledger(paths.ledger_path()) as ledger:
        assert tombstones(ledger) == []
        assert set(ledger.events_of(["003A"])) == {"003A"}


def test_unerase_of_a_contact_never_erased_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "unerase", "003Z")
    assert code == 2
    assert "never erased" in err


def test_ingest_keeps_consent_answers_as_evidence_and_withdraws_web_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def answer(at: str, yes: bool) -> dict[str, object]:
        return {"contact_id": "003A", "kind": "contact.updated", "at": at, "attrs": {"tracking_consent": yes}}

    visit = {"contact_id": "003A", "kind": "web.visit", "at": "2026-06-01T10:00:00Z", "attrs": {"pages": 2}}
    lines = [answer("2026-06-01T09:00:00Z", True), visit, answer("2026-06-03T09:00:00Z", False)]
    code, out, _ = run(capsys, "ingest", str(write(tmp_path / "e.ndjson", lines)))
    assert code == 0
    assert "tracking consent withdrawn for 1 contacts" in out
    with Ledger(paths.ledger_path()) as ledger:
        assert [(yes, src) for yes, _, src in consent_history(ledger, "003A")] == [
            (True, "ingest"), (False, "ingest")
        ]  # fmt: skip
        assert [e.kind for e in ledger.events_of(["003A"])["003A"]] == ["contact.updated"] * 2
        assert web_withdrawn(ledger) == ["003A"]  # the next cycle deletes its records in the org
