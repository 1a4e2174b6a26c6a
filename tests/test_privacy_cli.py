"""The command line of erasure: `ingest` refuses an erased contact; `unerase` lets one start over."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector import paths
from connector.details import ErasureReason
from connector.ledger import Ledger
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
