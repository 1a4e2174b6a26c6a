"""Issue 11's tombstones, end to end over HTTPS: an erased contact stays erased at every entry."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from itertools import count
from pathlib import Path

from connector.details import ErasureReason
from connector.events import make_event
from connector.ledger import Ledger
from connector.ledger.erasure import tombstones
from connector.shell.pixel import ingest_files
from tests.pixel.helpers import T0, hit, settings, token, write_hits

from .conftest import Org
from .crashes import cycle_killed_at


def rows_naming(ledger: Ledger, contact_id: str) -> dict[str, int]:
    """Rows of every ledger table (but the tombstones) that name the contact anywhere, by table."""
    tables = [
        str(r[0])
        for r in ledger.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not str(r[0]).startswith("sqlite_")
    ]
    assert {"events", "record_hashes", "org_written", "pixel_pending", "tombstones"} <= set(tables)
    found: dict[str, int] = {}
    for table in tables:
        if table == "tombstones":
            continue
        hits = sum(contact_id in json.dumps(list(row), default=str) for row in ledger.db.execute(
            f"SELECT * FROM {table}"  # noqa: S608 - table names come from sqlite_master
        ))  # fmt: skip
        if hits:
            found[table] = hits
    return found


def _scored_visitor(org: Org, tmp_path: Path) -> tuple[str, str]:
    """A consented candidate with an application at intake and an open website visit, synced once."""
    candidate, job = org.candidate("Erased"), org.job()
    application = org.em.org.apply(candidate, job, "Intake verwerkt")
    org.cycle()
    log = write_hits(tmp_path / "hits.ndjson", [
        hit(0, url=f"https://agency.nl/?mt={token(candidate)}", visitor="v-erased"),
        hit(200, url="https://agency.nl/vacatures", visitor="v-erased"),
    ])  # fmt: skip
    ingest_files(org.ledger, settings(), [log], org.em.org.clock.now())  # one visit ended, one open
    org.cycle()
    assert org.contact(candidate)["Lead_Score__c"] is not None
    assert {"pixel_day_visits", "pixel_pending"} <= set(
        rows_naming(org.ledger, candidate)
    )  # the scan sees them
    return candidate, application


def test_a_deleted_contact_leaves_no_ledger_row_but_its_tombstone(org: Org, tmp_path: Path) -> None:
    candidate, _ = _scored_visitor(org, tmp_path)
    org.em.org.delete("Contact", candidate)
    report = org.cycle()
    assert report.erased == 1
    assert rows_naming(org.ledger, candidate) == {}
    (stone,) = tombstones(org.ledger)
    assert (stone.contact_id, stone.reason) == (candidate, ErasureReason.DELETED)


def test_activity_after_the_erasure_creates_nothing_anywhere(org: Org, tmp_path: Path) -> None:
    candidate, application = _scored_visitor(org, tmp_path)
    org.em.org.delete("Contact", candidate)
    org.cycle()
    contact_before = org.em.org.record("Contact", candidate)
    org.em.org.move_application(application, "Voorgesteld")
    org.em.org.reset_calls()
    report = org.cycle()
    assert (report.events_added, report.scored, report.writes) == (0, 0, 0)
    assert report.oddities["erased_contact"] == 1  # the application's event, refused
    assert org.write_calls() == 0, org.em.org.call_counts()
    assert org.em.org.record("Contact", candidate) == contact_before
    assert rows_naming(org.ledger, candidate) == {}


def test_the_pixel_and_ingest_refuse_an_erased_contact(org: Org, tmp_path: Path) -> None:
    candidate, _ = _scored_visitor(org, tmp_path)
    org.em.org.delete("Contact", candidate)
    org.cycle()
    later = org.em.org.clock.now() + timedelta(hours=1)
    log = write_hits(tmp_path / "later.ndjson", [
        hit(600, url=f"https://agency.nl/?mt={token(candidate)}", visitor="v-erased"),
        hit(601, url=f"https://agency.nl/?mt={token(candidate)}", visitor="v-new"),
    ])  # fmt: skip
    ingest_files(org.ledger, settings(), [log], later)
    result = org.ledger.append([make_event(candidate, "application.step", T0, {"step": "Aangenomen"})])
    assert result.added == 0
    assert org.cycle().writes == 0
    assert rows_naming(org.ledger, candidate) == {}


def test_reading_the_erasure_again_changes_nothing(org: Org, tmp_path: Path) -> None:
    candidate, _ = _scored_visitor(org, tmp_path)
    org.em.org.delete("Contact", candidate)
    org.cycle()
    first = tombstones(org.ledger)
    # The deleted record is in every window's lookback until the cursor passes it: re-read, re-read.
    org.ledger.set_cursor("sf:contacts", "2026-01-01T00:00:00Z", T0)
    again = org.cycle()
    assert (again.erased, again.events_added, again.writes) == (0, 0, 0)
    assert tombstones(org.ledger) == first
    assert rows_naming(org.ledger, candidate) == {}


def test_a_kill_in_the_erasing_cycle_then_a_normal_cycle_leaves_only_the_tombstone(
    make_org: Callable[..., Org], tmp_path: Path
) -> None:
    for crash_at in count():  # every commit of the cycle, and one run past the last
        run = tmp_path / f"kill-{crash_at}"
        run.mkdir()
        org = make_org()
        candidate, _ = _scored_visitor(org, run)
        org.em.org.delete("Contact", candidate)
        died = cycle_killed_at(org, crash_at)
        org.cycle()
        assert rows_naming(org.ledger, candidate) == {}, f"killed before commit {crash_at + 1}"
        assert [t.contact_id for t in tombstones(org.ledger)] == [candidate]
        if not died:
            break
