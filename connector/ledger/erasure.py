"""Tombstones: the permanent record of erased contacts, which the ledger's triggers refuse rows for."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connector.details import ErasureReason
from connector.ledger.store import Ledger, in_chunks
from connector.ledger.sync_state import purge_contacts


@dataclass(frozen=True, slots=True)
class Tombstone:
    """An erased contact: its id, when it was erased and why."""

    contact_id: str
    erased_at: str
    reason: ErasureReason


def tombstoned(ledger: Ledger, contact_ids: Iterable[str]) -> set[str]:
    """Those of the given contacts that were erased."""
    ids, found = list(dict.fromkeys(contact_ids)), set[str]()
    for chunk, marks in in_chunks(ids):
        sql = f"SELECT contact_id FROM tombstones WHERE contact_id IN ({marks})"
        found.update(str(row[0]) for row in ledger.db.execute(sql, chunk))
    return found


def tombstones(ledger: Ledger) -> list[Tombstone]:
    """Every tombstone, oldest first."""
    rows = ledger.db.execute("SELECT contact_id, erased_at, reason FROM tombstones ORDER BY erased_at, 1")
    return [Tombstone(str(c), str(at), ErasureReason(r)) for c, at, r in rows]


def erase_contacts(
    ledger: Ledger, reasons: Mapping[str, ErasureReason], at: datetime, audit_id: int | None = None
) -> list[str]:
    """Tombstone these contacts and purge every other row naming them, in one transaction; return
    those not erased before (a re-read of an erased record keeps its first tombstone)."""
    ids = list(reasons)
    stamp = at.astimezone(UTC).isoformat()
    with ledger.transaction():
        known = tombstoned(ledger, ids)
        # The tombstone goes in first: from here on the triggers refuse any row naming the contact.
        ledger.db.conn.executemany(
            "INSERT OR IGNORE INTO tombstones (contact_id, erased_at, reason, audit_id) VALUES (?, ?, ?, ?)",
            [(cid, stamp, reasons[cid].value, audit_id) for cid in ids],
        )
        purge_contacts(ledger, ids)
        for table in (
            "consent_changes",
            "web_withdrawn",
            "contact_history",
            "pixel_day_visits",
        ):  # tables newer than purge_contacts
            ledger.db.conn.executemany(f"DELETE FROM {table} WHERE contact_id = ?", [(c,) for c in ids])
    return [cid for cid in ids if cid not in known]


def lift_tombstone(ledger: Ledger, contact_id: str) -> bool:
    """Let an undeleted contact start over (an explicit admin step); return whether it was erased."""
    with ledger.transaction():
        sql = "DELETE FROM tombstones WHERE contact_id = ?"
        return bool(ledger.db.conn.execute(sql, [contact_id]).rowcount)


def merged_keys(ledger: Ledger, contact_ids: Sequence[str]) -> dict[str, list[str]]:
    """Of these tombstoned contacts, those merged into another: the external ids of their org records."""
    found: dict[str, list[str]] = {}
    for chunk, marks in in_chunks(list(contact_ids)):
        sql = (
            "SELECT contact_id, org_keys FROM tombstones"
            f" WHERE merged_into IS NOT NULL AND contact_id IN ({marks})"
        )
        found.update((str(c), list(json.loads(keys))) for c, keys in ledger.db.execute(sql, chunk))
    return found


def merged_into(ledger: Ledger) -> dict[str, str]:
    """Every contact merged into another: loser -> survivor."""
    sql = "SELECT contact_id, merged_into FROM tombstones WHERE merged_into IS NOT NULL"
    return {str(c): str(s) for c, s in ledger.db.execute(sql)}


def owed_to_org(ledger: Ledger) -> list[Tombstone]:
    """Tombstones whose records in the org (score lines, visits, job views, details) may remain."""
    sql = "SELECT contact_id, erased_at, reason FROM tombstones WHERE org_cleared_at IS NULL ORDER BY 1"
    return [Tombstone(str(c), str(at), ErasureReason(r)) for c, at, r in ledger.db.execute(sql)]


def held_by_jobs(ledger: Ledger, owed: Sequence[Tombstone]) -> set[str]:
    """Of these tombstones, those erased while a Bulk 2.0 job sent before it is still recorded (not
    collected): the job may hold the contact's writes and apply them after the erasure, so the org is
    not cleared of the contact until the job is collected and its records are found and deleted."""
    rows = ledger.db.execute("SELECT started_at FROM bulk_jobs").fetchall()
    if not rows or not owed:
        return set()
    first = min(datetime.fromisoformat(str(started)) for (started,) in rows)
    return {t.contact_id for t in owed if datetime.fromisoformat(t.erased_at) >= first}


def cleared_in_org(
    ledger: Ledger, contact_ids: Sequence[str], refused: Mapping[str, str], at: datetime
) -> None:
    """The org holds nothing more of these contacts; for `refused` ones (contact -> error) it still does."""
    stamp = at.astimezone(UTC).isoformat()
    with ledger.transaction():
        ledger.db.conn.executemany(
            "UPDATE tombstones SET org_cleared_at = ?, org_error = '', org_keys = '[]' WHERE contact_id = ?",
            [(stamp, c) for c in contact_ids],
        )
        ledger.db.conn.executemany(
            "UPDATE tombstones SET org_error = ? WHERE contact_id = ?", [(e, c) for c, e in refused.items()]
        )


def org_errors(ledger: Ledger) -> dict[str, str]:
    """Erased contacts whose records the org refused to delete or clear: contact -> the last error."""
    sql = "SELECT contact_id, org_error FROM tombstones WHERE org_cleared_at IS NULL AND org_error != ''"
    return {str(c): str(e) for c, e in ledger.db.execute(sql)}


def add_audit(ledger: Ledger, at: datetime, who: str, action: str, summary: Mapping[str, Any]) -> int:
    """Log an admin's request (who, when, what); return its id for the rows it concerns to point to."""
    with ledger.transaction():
        cur = ledger.db.conn.execute(
            "INSERT INTO audit (at, who, action, summary) VALUES (?, ?, ?, ?)",
            (at.astimezone(UTC).isoformat(), who, action, json.dumps(dict(summary), default=str)),
        )
    return int(cur.lastrowid or 0)


def audit_of(ledger: Ledger, contact_id: str) -> dict[str, Any] | None:
    """The audit row of a requested erasure, through its tombstone."""
    row = ledger.db.execute(
        "SELECT a.at, a.who, a.action, a.summary FROM tombstones t JOIN audit a ON a.id = t.audit_id"
        " WHERE t.contact_id = ?",
        [contact_id],
    ).fetchone()
    return (
        None
        if row is None
        else {"at": row[0], "who": row[1], "action": row[2], "summary": json.loads(row[3])}
    )
