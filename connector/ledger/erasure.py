"""Tombstones: the permanent record of erased contacts, which the ledger's triggers refuse rows for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from connector.details import ErasureReason
from connector.ledger.store import Ledger
from connector.ledger.sync_state import purge_contacts

_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Tombstone:
    """An erased contact: its id, when it was erased and why."""

    contact_id: str
    erased_at: str
    reason: ErasureReason


def tombstoned(ledger: Ledger, contact_ids: Iterable[str]) -> set[str]:
    """Those of the given contacts that were erased."""
    ids, found = list(dict.fromkeys(contact_ids)), set[str]()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        sql = f"SELECT contact_id FROM tombstones WHERE contact_id IN ({','.join('?' * len(chunk))})"
        found.update(str(row[0]) for row in ledger.db.execute(sql, chunk))
    return found


def tombstones(ledger: Ledger) -> list[Tombstone]:
    """Every tombstone, oldest first."""
    rows = ledger.db.execute("SELECT contact_id, erased_at, reason FROM tombstones ORDER BY erased_at, 1")
    return [Tombstone(str(c), str(at), ErasureReason(r)) for c, at, r in rows]


def erase_contacts(ledger: Ledger, reasons: Mapping[str, ErasureReason], at: datetime) -> list[str]:
    """Tombstone these contacts and purge every other row naming them, in one transaction; return
    those not erased before (a re-read of an erased record keeps its first tombstone)."""
    ids = list(reasons)
    stamp = at.astimezone(UTC).isoformat()
    with ledger.transaction():
        known = tombstoned(ledger, ids)
        # The tombstone goes in first: from here on the triggers refuse any row naming the contact.
        ledger.db.conn.executemany(
            "INSERT OR IGNORE INTO tombstones (contact_id, erased_at, reason) VALUES (?, ?, ?)",
            [(cid, stamp, reasons[cid].value) for cid in ids],
        )
        purge_contacts(ledger, ids)
        for table in ("consent_changes", "web_withdrawn"):  # tables newer than purge_contacts
            ledger.db.conn.executemany(f"DELETE FROM {table} WHERE contact_id = ?", [(c,) for c in ids])
    return [cid for cid in ids if cid not in known]


def lift_tombstone(ledger: Ledger, contact_id: str) -> bool:
    """Let an undeleted contact start over (an explicit admin step); return whether it was erased."""
    with ledger.transaction():
        sql = "DELETE FROM tombstones WHERE contact_id = ?"
        return bool(ledger.db.conn.execute(sql, [contact_id]).rowcount)
