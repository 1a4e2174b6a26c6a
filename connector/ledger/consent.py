"""Tracking consent in the ledger: current answers, their evidence, and withdrawals of web data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from connector.ledger.store import Ledger, in_chunks

WEB_KINDS = "web.%"  # every event the website produced (visits, job views)


def consent_of(ledger: Ledger, contact_ids: Iterable[str]) -> dict[str, tuple[bool, int]]:
    """The current answer of the given contacts that have one, with its time (epoch microseconds)."""
    found: dict[str, tuple[bool, int]] = {}
    for chunk, marks in in_chunks(list(dict.fromkeys(contact_ids))):
        sql = f"SELECT contact_id, consent, at FROM contact_consent WHERE contact_id IN ({marks})"
        found.update((str(c), (bool(v), int(at))) for c, v, at in ledger.db.execute(sql, chunk))
    return found


def record_consent_changes(
    ledger: Ledger, changes: Iterable[tuple[str, bool, int]], source: str, now: datetime
) -> None:
    """Keep consent changes (contact, answer, its time) as evidence, with where and when they came in."""
    stamp = now.astimezone(UTC).isoformat()
    with ledger.transaction():
        ledger.db.conn.executemany(
            "INSERT INTO consent_changes (contact_id, consent, changed_at, source, recorded_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(cid, int(consent), at, source, stamp) for cid, consent, at in changes],
        )


def consent_history(ledger: Ledger, contact_id: str) -> list[tuple[bool, int, str]]:
    """A contact's consent changes, oldest first: (answer, its time, source)."""
    sql = (
        "SELECT consent, changed_at, source FROM consent_changes WHERE contact_id = ? ORDER BY changed_at, id"
    )
    return [(bool(v), int(at), str(src)) for v, at, src in ledger.db.execute(sql, [contact_id])]


def withdraw_web(ledger: Ledger, contact_ids: Sequence[str]) -> int:
    """Delete what the website told about these contacts (web events, pending hits, visitor links),
    have them re-scored, and queue their visit and job-view records for deletion in the org; return
    the events deleted."""
    deleted = 0
    with ledger.transaction():
        conn = ledger.db.conn
        for chunk, marks in in_chunks(list(contact_ids)):
            deleted += conn.execute(
                f"DELETE FROM events WHERE contact_id IN ({marks}) AND kind LIKE ?", [*chunk, WEB_KINDS]
            ).rowcount
            conn.execute(f"DELETE FROM pixel_pending WHERE contact_id IN ({marks})", chunk)
            conn.execute(f"DELETE FROM pixel_visitors WHERE shared = 0 AND contact_id IN ({marks})", chunk)
            conn.execute(f"DELETE FROM web_pending WHERE contact_id IN ({marks})", chunk)
        conn.executemany("INSERT OR IGNORE INTO web_withdrawn VALUES (?)", [(c,) for c in contact_ids])
        ledger.mark_dirty(contact_ids)
    return deleted


def web_withdrawn(ledger: Ledger) -> list[str]:
    """Contacts whose visit and job-view records the org may still hold after a withdrawal."""
    return [str(r[0]) for r in ledger.db.execute("SELECT contact_id FROM web_withdrawn ORDER BY 1")]


def web_cleared(ledger: Ledger, contact_ids: Sequence[str], objects: Sequence[str]) -> None:
    """The org holds no visit or job-view record of these contacts any more: forget what it held."""
    with ledger.transaction():
        conn = ledger.db.conn
        for chunk, marks in in_chunks(list(contact_ids)):
            conn.execute(f"DELETE FROM web_withdrawn WHERE contact_id IN ({marks})", chunk)
            conn.execute(f"DELETE FROM org_children WHERE contact_id IN ({marks})", chunk)
            kinds = ",".join("?" * len(objects))
            conn.execute(
                f"DELETE FROM org_written WHERE contact_id IN ({marks}) AND object IN ({kinds})",
                [*chunk, *objects],
            )


def consented(ledger: Ledger, contact_ids: Iterable[str]) -> set[str]:
    """Those of the given contacts whose current tracking consent is yes."""
    return {cid for cid, (yes, _) in consent_of(ledger, contact_ids).items() if yes}
