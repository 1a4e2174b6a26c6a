"""Score history: what each contact showed after each nightly pass (score, band, medal)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from connector.ledger.store import Ledger

# A row for every contact whose stored score, band or medal differs from its latest history row.
_CHANGED = """
    INSERT INTO contact_history (contact_id, at, score, band, medal)
    SELECT s.contact_id, :at, s.score, s.band, s.medal FROM contact_state s
    WHERE NOT EXISTS (
        SELECT 1 FROM (
            SELECT score, band, medal FROM contact_history h
            WHERE h.contact_id = s.contact_id ORDER BY h.at DESC LIMIT 1
        ) last
        WHERE last.score IS s.score AND last.band IS s.band AND last.medal IS s.medal
    )
"""


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """What a contact showed after one nightly pass; strings as stored (None: no score yet)."""

    at: datetime
    score: int | None
    band: str | None
    medal: str | None


def record_pass(ledger: Ledger, now: datetime) -> int:
    """Note a nightly pass at `now` and every contact whose score, band or medal changed; return how
    many rows were added."""
    stamp = now.astimezone(UTC).isoformat()
    with ledger.transaction():
        ledger.db.conn.execute("INSERT OR IGNORE INTO score_passes (at) VALUES (?)", [stamp])
        return int(ledger.db.conn.execute(_CHANGED, {"at": stamp}).rowcount)


def history_of(ledger: Ledger, contact_id: str) -> list[HistoryRow]:
    """One row per nightly pass since the contact's first: what it showed after that pass."""
    sql = "SELECT at, score, band, medal FROM contact_history WHERE contact_id = ? ORDER BY at"
    changes = ledger.db.conn.execute(sql, [contact_id]).fetchall()
    if not changes:
        return []
    passes = [
        row[0]
        for row in ledger.db.conn.execute(
            "SELECT at FROM score_passes WHERE at >= ? ORDER BY at", [changes[0][0]]
        )
    ]
    rows: list[HistoryRow] = []
    index = 0
    for at in passes:
        while index + 1 < len(changes) and changes[index + 1][0] <= at:
            index += 1
        _, score, band, medal = changes[index]
        rows.append(HistoryRow(datetime.fromisoformat(at), score, band, medal))
    return rows


def most_changed(ledger: Ledger) -> str | None:
    """The contact whose history changed most often (ties: the smallest id); None without history."""
    sql = """SELECT contact_id FROM contact_history GROUP BY contact_id
             ORDER BY COUNT(DISTINCT band) DESC, COUNT(*) DESC, contact_id LIMIT 1"""
    row = ledger.db.conn.execute(sql).fetchone()
    return str(row[0]) if row is not None else None


__all__ = ["HistoryRow", "history_of", "most_changed", "record_pass"]
