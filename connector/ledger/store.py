"""The SQLite ledger: append-only events, contact state, cursors and metadata. Stores; never decides."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby, islice
from pathlib import Path
from typing import Any

import sqlite_utils

from connector.events import Event
from connector.ledger.migrations import migrate

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EMPTY: Mapping[str, Any] = {}
BATCH = 20_000


def to_micros(at: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (exact, sortable)."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """Inverse of `to_micros`."""
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one append did: events added and events already present."""

    added: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class StateRow:
    """A contact's stored state, as plain values (ISO dates, names of bands and medals)."""

    contact_id: str
    kind: str
    score: int | None
    band: str | None
    medal: str | None
    first_qualified_on: str | None
    first_placed_on: str | None
    last_activity_on: str | None
    lines: Mapping[str, int]


def _event_row(event: Event) -> tuple[str, str, str, int, str]:
    attrs = json.dumps(event.attrs, separators=(",", ":"), ensure_ascii=False) if event.attrs else "{}"
    return (event.contact_id, event.id, event.kind, to_micros(event.at), attrs)


def _event(row: Sequence[Any]) -> Event:
    contact_id, event_id, kind, at, attrs = row
    return Event(event_id, contact_id, kind, from_micros(at), json.loads(attrs) if attrs != "{}" else _EMPTY)


class Ledger:
    """One SQLite file (WAL). Writes happen in explicit transactions; readers see committed data."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(self.path)
        self.db.enable_wal()
        self.db.execute(
            "PRAGMA synchronous=NORMAL"
        )  # WAL + NORMAL: durable at checkpoints, no fsync per commit
        self.db.execute("PRAGMA busy_timeout=10000")
        migrate(self.db)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events ---------------------------------------------------------------------------------------

    def append(self, events: Iterable[Event], cursors: Mapping[str, str] | None = None) -> AppendResult:
        """Add events not yet present (by contact and id) and move cursors, all in one transaction."""
        conn = self.db.conn
        seen = added = 0
        with conn:
            iterator = iter(events)
            while batch := [_event_row(e) for e in islice(iterator, BATCH)]:
                batch.sort()  # key order: each B-tree page is visited once per batch
                seen += len(batch)
                # rowcount sums sqlite3_changes() over the batch, which leaves out the trigger's rows.
                added += conn.executemany(
                    "INSERT OR IGNORE INTO events (contact_id, id, kind, at, attrs) VALUES (?, ?, ?, ?, ?)",
                    batch,
                ).rowcount
            for name, value in (cursors or {}).items():
                self._set_cursor(name, value)
        return AppendResult(added=added, duplicates=seen - added)

    def events_of(self, contact_ids: Iterable[str]) -> dict[str, list[Event]]:
        """All events of the given contacts."""
        found: dict[str, list[Event]] = {}
        ids = list(dict.fromkeys(contact_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT contact_id, id, kind, at, attrs FROM events WHERE contact_id IN ({marks})",
                chunk,
            )
            for row in rows:
                found.setdefault(row[0], []).append(_event(row))
        return found

    def scan(self) -> Iterator[tuple[str, list[Event]]]:
        """Every contact with its events, in contact order (one pass over the clustered table)."""
        rows = self.db.execute("SELECT contact_id, id, kind, at, attrs FROM events ORDER BY contact_id")
        for contact_id, group in groupby(rows, key=lambda row: row[0]):
            yield contact_id, [_event(row) for row in group]

    def count_events(self) -> int:
        """Number of events stored."""
        return int(self.db.execute("SELECT count(*) FROM events").fetchone()[0])

    def count_contacts(self) -> int:
        """Number of contacts with at least one event."""
        return int(self.db.execute("SELECT count(DISTINCT contact_id) FROM events").fetchone()[0])

    # -- dirty contacts and state ----------------------------------------------------------------------

    def dirty_contacts(self) -> list[str]:
        """Contacts whose events changed since they were last scored."""
        return [row[0] for row in self.db.execute("SELECT contact_id FROM dirty ORDER BY contact_id")]

    def states(self, contact_ids: Iterable[str] | None = None) -> dict[str, StateRow]:
        """Stored state of the given contacts (all when None)."""
        sql = "SELECT * FROM contact_state"
        if contact_ids is None:
            return {row.contact_id: row for row in map(_state, self.db.execute(sql))}
        found: dict[str, StateRow] = {}
        ids = list(contact_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for raw in self.db.execute(f"{sql} WHERE contact_id IN ({marks})", chunk):
                row = _state(raw)
                found[row.contact_id] = row
        return found

    def save_states(self, rows: Iterable[StateRow], scored_at: datetime) -> int:
        """Store contact states in one transaction; return rows written."""
        stamp = scored_at.astimezone(UTC).isoformat()
        conn = self.db.conn
        count = 0
        with conn:
            iterator = iter(rows)
            while batch := list(islice(iterator, BATCH)):
                conn.executemany(
                    "INSERT OR REPLACE INTO contact_state VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            r.contact_id, r.kind, r.score, r.band, r.medal, r.first_qualified_on,
                            r.first_placed_on, r.last_activity_on, json.dumps(dict(r.lines)), stamp,
                        )
                        for r in batch
                    ],
                )  # fmt: skip
                count += len(batch)
        return count

    def clear_dirty(self, contact_ids: Iterable[str]) -> None:
        """Forget the dirty marks of contacts that were just re-scored."""
        with self.db.conn:
            self.db.conn.executemany("DELETE FROM dirty WHERE contact_id = ?", [(c,) for c in contact_ids])

    # -- cursors and metadata --------------------------------------------------------------------------

    def cursor(self, name: str) -> str | None:
        """The stored value of a named cursor (watermark), or None."""
        row = self.db.execute("SELECT value FROM cursors WHERE name = ?", [name]).fetchone()
        return None if row is None else str(row[0])

    def _set_cursor(self, name: str, value: str) -> None:
        self.db.conn.execute(
            "INSERT OR REPLACE INTO cursors (name, value, updated_at) VALUES (?, ?, ?)",
            (name, value, datetime.now(UTC).isoformat()),
        )

    def meta(self, key: str) -> str | None:
        """A stored metadata value (e.g. the org id this ledger belongs to)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a metadata value."""
        with self.db.conn:
            self.db.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _state(raw: Sequence[Any]) -> StateRow:
    contact_id, kind, score, band, medal, fq, fp, last, lines, _scored_at = raw
    return StateRow(contact_id, kind, score, band, medal, fq, fp, last, json.loads(lines))
