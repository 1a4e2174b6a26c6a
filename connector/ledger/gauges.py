"""What the daemon's metrics read from the ledger: contacts per band, dead letters pending, and the
times of the activities a cycle added, so the metrics can tell how long each took to reach the org.

The activity watch is a TEMP table filled by a TEMP trigger on `events`: it lives only on the
connection of the cycle that installed it (the daemon opens the ledger per cycle) and sees exactly
the rows really inserted, as the `dirty` trigger does.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connector.ledger.store import Ledger


def contacts_by_band(ledger: Ledger) -> dict[str, int]:
    """Scored contacts per band ('' for a contact without a band)."""
    rows = ledger.db.execute("SELECT coalesce(band, ''), count(*) FROM contact_state GROUP BY 1")
    return {str(band): int(n) for band, n in rows}


def pending_dead_letters(ledger: Ledger) -> int:
    """Refused writes still waiting for `dead-letters --retry` (or a fix in the org)."""
    return int(ledger.db.execute("SELECT count(*) FROM dead_letters").fetchone()[0])


def watch_new_events(ledger: Ledger) -> None:
    """From now on (on this connection only), note the contact and time of every activity inserted
    (every event but `contact.*`, which only says what the contact is)."""
    ledger.db.conn.executescript(
        """
        CREATE TEMP TABLE IF NOT EXISTS new_events (contact_id TEXT NOT NULL, at INTEGER NOT NULL);
        CREATE TEMP TRIGGER IF NOT EXISTS note_new_events AFTER INSERT ON main.events
        WHEN new.kind NOT LIKE 'contact.%'
        BEGIN
            INSERT INTO new_events (contact_id, at) VALUES (new.contact_id, new.at);
        END;
        """
    )


def written_activity(ledger: Ledger, written_at: datetime) -> list[datetime]:
    """The times of the events noted since `watch_new_events` whose contact had a write accepted in
    the cycle of `written_at` (the accepted-write stamp); the notes are cleared."""
    stamp = written_at.astimezone(UTC).isoformat()
    rows = ledger.db.execute(
        "SELECT n.at FROM temp.new_events n WHERE EXISTS (SELECT 1 FROM org_written w"
        " WHERE w.contact_id = n.contact_id AND w.written_at = ?)",  # by the contact index
        [stamp],
    ).fetchall()
    with ledger.transaction():
        ledger.db.conn.execute("DELETE FROM temp.new_events")
    return [datetime.fromtimestamp(at / 1_000_000, UTC) for (at,) in rows]
