"""Migration `org_event_ids`: stored org events get the contact-free id, provably and only then."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from connector.config import OrgSource
from connector.config.sync import EventSpec
from connector.events import legacy_org_event_id, org_event_id, to_micros
from connector.ledger import MIGRATIONS, Ledger
from connector.ledger.migrations import migrate
from connector.sync.sources import activity_events

AT = datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)
APP, CONTACT = "a0A000000000001AAA", "003000000000001AAA"


def _old_ledger(path: Path) -> None:
    """A ledger as the release before the migration left it: an old-form org event, a web event and
    an ingested one whose id proves nothing."""
    db = sqlite_utils.Database(path)
    names = [m.__name__ for m in MIGRATIONS]
    migrate(db, MIGRATIONS[: names.index("merges")])
    db.execute("INSERT INTO cursors VALUES ('sf:applications', '2026-03-02T09:00:00Z', 'x')")
    old = legacy_org_event_id("applications", APP, CONTACT, "application.step", AT)
    rows = [
        (CONTACT, old, "application.step", AT, {"step": "Intake verwerkt", "application_id": APP}),
        (CONTACT, "web-1", "web.visit", AT, {"visit_id": APP}),
        (CONTACT, "given-1", "application.step", AT, {"application_id": APP}),
    ]
    for contact, event_id, kind, at, attrs in rows:
        db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                   [contact, event_id, kind, to_micros(at), json.dumps(attrs)])  # fmt: skip
    db.conn.commit()
    db.close()


def test_old_org_event_ids_become_what_a_read_gives_now_and_nothing_else_moves(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    _old_ledger(path)
    with Ledger(path) as ledger:
        ids = sorted(str(r[0]) for r in ledger.db.execute("SELECT id FROM events"))
        source = OrgSource(name="applications", object="msf__Job_Application__c", contact="msf__Candidate__c",
                           watched=("msf__Step__c",), events=(EventSpec(
                               kind="application.step", time="SystemModstamp",
                               attrs={"step": "msf__Step__c", "application_id": "Id"}),))  # fmt: skip
        record = {"Id": APP, "msf__Candidate__c": CONTACT, "msf__Step__c": "Intake verwerkt",
                  "SystemModstamp": "2026-03-02T09:00:05.000+0000"}  # fmt: skip
        (read,) = activity_events(source, [record]).events
        assert read.id == org_event_id("applications", APP, "application.step", AT)
        assert ids == sorted([read.id, "web-1", "given-1"])
        assert ledger.append([read]).added == 0  # the re-read of the migrated event adds nothing
