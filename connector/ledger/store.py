"""The SQLite ledger: append-only events, contact state, cursors and metadata. Stores; never decides."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Collection, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from connector.details import (
    DETAIL_NAMES,
    EMPTY_DETAILS,
    Band,
    ContactKind,
    Medal,
    RecruitmentDetails,
    StoredState,
)
from connector.events import Event, EventRecord, day_text, from_micros, parse_day, to_micros
from connector.ledger.migrations import migrate
from connector.ledger.score_lines import lines_json, lines_of

_EMPTY: Mapping[str, Any] = {}


def _encode(attrs: Mapping[str, Any]) -> str:
    """Attributes as compact JSON. orjson: building rows was most of an append's Python time."""
    try:
        return orjson.dumps(attrs if type(attrs) is dict else dict(attrs)).decode()
    except (orjson.JSONEncodeError, TypeError):  # e.g. an integer beyond 64 bits: json manages those
        return json.dumps(dict(attrs), separators=(",", ":"), ensure_ascii=False)


BATCH = 100_000


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one append did: events added and events already present."""

    added: int
    duplicates: int


IN_CHUNK = 500  # ids per `IN (...)` list: well under SQLite's bound-parameter limit


def in_chunks(ids: Sequence[str]) -> Iterator[tuple[Sequence[str], str]]:
    """`ids` in chunks for `IN (...)` lists, each with its `?,?,...` placeholders."""
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        yield chunk, ",".join("?" * len(chunk))


def _event_row(event: Event) -> tuple[str, str, str, int, str]:
    attrs = _encode(event.attrs) if event.attrs else "{}"
    return (event.contact_id, event.id, event.kind, to_micros(event.at), attrs)


def _event(contact_id: str, record: EventRecord) -> Event:
    at, event_id, kind, attrs = record
    return Event(event_id, contact_id, kind, from_micros(at), attrs)


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
        # Staging rows and sorts stay in memory; 64 MiB of page cache (default 2 MiB) keeps the upper
        # B-tree levels of a large ledger cached during appends and scans.
        self.db.execute("PRAGMA temp_store=MEMORY")
        self.db.execute("PRAGMA cache_size=-65536")
        migrate(self.db)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Ledger]:
        """One unit of work: everything written inside commits together, or nothing does.

        Nestable: an inner block is a savepoint, and only the outermost block commits. Every write of
        the ledger goes through here, so a step that calls several of them stays one commit.
        """
        with self.db.atomic():
            yield self

    @contextmanager
    def undone(self) -> Iterator[Ledger]:
        """Work whose ledger writes are all undone when it ends, however it ends (a dry run's scoring);
        `transaction` blocks inside it become savepoints of it."""
        conn = self.db.conn
        outer = conn.in_transaction
        savepoint = f"undone_{secrets.token_hex(8)}"
        conn.execute(f"SAVEPOINT {savepoint}" if outer else "BEGIN")
        try:
            yield self
        finally:
            if conn.in_transaction and outer:
                conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                conn.execute(f"RELEASE SAVEPOINT {savepoint}")
            elif conn.in_transaction:
                conn.execute("ROLLBACK")

    # -- events ---------------------------------------------------------------------------------------

    def append(self, events: Iterable[Event]) -> AppendResult:
        """Add events not yet present (by contact and id), in one transaction (or the caller's)."""
        conn = self.db.conn
        seen = added = 0
        with self.transaction():
            # Rows land in an unindexed in-memory staging table first (as cheap as a bare append),
            # then move in one statement, sorted by key inside SQLite: each B-tree page of `events`
            # is visited once per batch and no per-row Python call touches the clustered table.
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS append_staging (contact_id, id, kind, at, attrs)")
            conn.execute("DELETE FROM append_staging")  # nothing left from an append that failed
            iterator = iter(events)
            while True:
                seen_now = conn.executemany(
                    "INSERT INTO append_staging VALUES (?, ?, ?, ?, ?)",
                    map(_event_row, islice(iterator, BATCH)),
                ).rowcount
                if seen_now <= 0:
                    break
                seen += seen_now
                # rowcount is sqlite3_changes(), which leaves out the dirty trigger's rows.
                added += conn.execute(
                    "INSERT OR IGNORE INTO events (contact_id, id, kind, at, attrs)"
                    " SELECT contact_id, id, kind, at, attrs FROM append_staging ORDER BY contact_id, id"
                ).rowcount
                conn.execute("DELETE FROM append_staging")
        return AppendResult(added=added, duplicates=seen - added)

    def events_of(self, contact_ids: Iterable[str]) -> dict[str, list[Event]]:
        """All events of the given contacts."""
        return {
            contact_id: [_event(contact_id, record) for record in records]
            for contact_id, records in self.records_of(contact_ids).items()
        }

    def scan(self) -> Iterator[tuple[str, list[Event]]]:
        """Every contact with its events, in contact order (one pass over the clustered table)."""
        for contact_id, records in self.scan_records():
            yield contact_id, [_event(contact_id, record) for record in records]

    def records_of(
        self, contact_ids: Iterable[str], attrs_of: Collection[str] | None = None
    ) -> dict[str, list[EventRecord]]:
        """All events of the given contacts as records; see `scan_records` for `attrs_of`."""
        found: dict[str, list[EventRecord]] = {}
        ids = list(dict.fromkeys(contact_ids))
        for chunk, marks in in_chunks(ids):
            found.update(self._records(f"contact_id IN ({marks})", list(chunk), attrs_of))
        return found

    def scan_records(
        self,
        attrs_of: Collection[str] | None = None,
        start: str | None = None,
        stop: str | None = None,
    ) -> Iterator[tuple[str, list[EventRecord]]]:
        """Every contact with its event records, in contact order (one pass over the clustered table).

        With `attrs_of`, only events of those kinds carry their attributes (the others' are empty):
        a bulk reader that needs few of them skips most of the JSON decoding. `start` (inclusive) and
        `stop` (exclusive) limit the scan to a range of contact ids.
        """
        bounds = [("contact_id >= ?", start), ("contact_id < ?", stop)]
        where = " AND ".join(sql for sql, value in bounds if value is not None) or None
        return self._records(where, [value for _, value in bounds if value is not None], attrs_of)

    def contact_split(self) -> tuple[int, str | None]:
        """About how many contacts there are, and a contact id near the middle of them (cheap).

        Read from the stored states or the dirty marks, whichever is larger, so it costs an index
        walk over half of that table, never a pass over the events.
        """
        best: tuple[int, str | None] = (0, None)
        for table in ("contact_state", "dirty"):
            count = int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            if count > best[0]:
                row = self.db.execute(
                    f"SELECT contact_id FROM {table} ORDER BY contact_id LIMIT 1 OFFSET ?", [count // 2]
                ).fetchone()
                best = (count, row[0])
        return best

    def _records(
        self, where: str | None, params: list[str], attrs_of: Collection[str] | None
    ) -> Iterator[tuple[str, list[EventRecord]]]:
        if attrs_of is None:
            attrs = "attrs"
        else:
            kinds = sorted(attrs_of)
            attrs = f"CASE WHEN kind IN ({','.join('?' * len(kinds))}) THEN attrs END"
            params = [*kinds, *params]
        sql = f"SELECT contact_id, at, id, kind, {attrs} FROM events"
        if where is not None:
            sql += f" WHERE {where}"
        rows = self.db.conn.execute(f"{sql} ORDER BY contact_id", params)
        loads, empty = json.loads, _EMPTY
        current: str | None = None
        records: list[EventRecord] = []
        # A hand-written group-by: this loop runs once per stored event on a full re-score.
        for contact_id, at, event_id, kind, text in rows:
            if contact_id != current:
                if current is not None:
                    yield current, records
                current, records = contact_id, []
            records.append((at, event_id, kind, loads(text) if text and text != "{}" else empty))
        if current is not None:
            yield current, records

    def count_events(self) -> int:
        """Number of events stored."""
        return int(self.db.execute("SELECT count(*) FROM events").fetchone()[0])

    def first_event_at(self, kinds: Collection[str] | None = None) -> int | None:
        """The earliest event time in microseconds, of the given kinds only if named (None: no such
        event)."""
        if kinds is None:
            value = self.db.execute("SELECT min(at) FROM events").fetchone()[0]
        else:
            value = self.db.execute(
                f"SELECT min(at) FROM events WHERE kind IN ({marks(len(kinds))})", [*kinds]
            ).fetchone()[0]
        return int(value) if value is not None else None

    def count_contacts(self) -> int:
        """Number of contacts with at least one event."""
        return int(self.db.execute("SELECT count(DISTINCT contact_id) FROM events").fetchone()[0])

    # -- dirty contacts and state ----------------------------------------------------------------------

    def dirty_contacts(self) -> list[str]:
        """Contacts whose events changed since they were last scored."""
        return [row[0] for row in self.db.execute("SELECT contact_id FROM dirty ORDER BY contact_id")]

    def states(self, contact_ids: Iterable[str] | None = None) -> dict[str, StoredState]:
        """Stored state of the given contacts (all when None)."""
        sql = "SELECT * FROM contact_state"
        if contact_ids is None:
            return {row.contact_id: row for row in map(_state, self.db.execute(sql))}
        found: dict[str, StoredState] = {}
        ids = list(contact_ids)
        for chunk, marks in in_chunks(ids):
            for raw in self.db.execute(f"{sql} WHERE contact_id IN ({marks})", chunk):
                row = _state(raw)
                found[row.contact_id] = row
        return found

    def scan_states(
        self, start: str | None = None, stop: str | None = None
    ) -> Generator[StoredState, None, None]:
        """Stored states in contact order (`start` inclusive, `stop` exclusive), as they were when the
        scan began: read through a connection of its own, so this ledger's writes meanwhile (a job
        saving what it scored) neither show up in it nor disturb it."""
        bounds = [("contact_id >= ?", start), ("contact_id < ?", stop)]
        where = " AND ".join(sql for sql, value in bounds if value is not None)
        sql = "SELECT * FROM contact_state" + (f" WHERE {where}" if where else "") + " ORDER BY contact_id"
        snapshot = sqlite3.connect(self.path)
        try:
            snapshot.execute("PRAGMA busy_timeout=10000")
            yield from map(_state, snapshot.execute(sql, [v for _, v in bounds if v is not None]))
        finally:
            snapshot.close()

    def save_states(self, rows: Iterable[StoredState], scored_at: datetime) -> int:
        """Store contact states in one transaction; return rows written."""
        stamp = scored_at.astimezone(UTC).isoformat()
        conn = self.db.conn
        count = 0
        with self.transaction():
            iterator = iter(rows)
            while batch := list(islice(iterator, BATCH)):
                conn.executemany(
                    _STATE_INSERT,
                    [
                        (r.contact_id, r.kind.value, *details_columns(r.details),
                         day_text(r.last_activity_on), lines_json(r.lines), stamp)
                        for r in batch
                    ],
                )  # fmt: skip
                count += len(batch)
        return count

    def clear_dirty_between(self, first: str, last: str) -> None:
        """Forget the dirty marks of every contact from `first` to `last` (a re-scored key range)."""
        with self.transaction():
            self.db.conn.execute("DELETE FROM dirty WHERE contact_id BETWEEN ? AND ?", (first, last))

    def mark_dirty(self, contact_ids: Iterable[str]) -> None:
        """Have these contacts re-scored (their events did not change, what they are merged with did)."""
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO dirty (contact_id) VALUES (?)", [(c,) for c in contact_ids]
            )

    def clear_dirty(self, contact_ids: Iterable[str]) -> None:
        """Forget the dirty marks of contacts that were just re-scored."""
        with self.transaction():
            self.db.conn.executemany("DELETE FROM dirty WHERE contact_id = ?", [(c,) for c in contact_ids])

    # -- cursors and metadata --------------------------------------------------------------------------

    def cursor(self, name: str) -> str | None:
        """The stored value of a named cursor (watermark), or None."""
        row = self.db.execute("SELECT value FROM cursors WHERE name = ?", [name]).fetchone()
        return None if row is None else str(row[0])

    def cursors(self) -> list[tuple[str, str]]:
        """Every named cursor and its value, by name (for `status`)."""
        return [(str(n), str(v)) for n, v in self.db.execute("SELECT name, value FROM cursors ORDER BY name")]

    def set_cursor(self, name: str, value: str, at: datetime) -> None:
        """Move a named cursor (watermark); `at` is the job's `now`, kept for `status`."""
        with self.transaction():
            self.db.conn.execute(
                "INSERT OR REPLACE INTO cursors (name, value, updated_at) VALUES (?, ?, ?)",
                (name, value, at.astimezone(UTC).isoformat()),
            )

    def meta(self, key: str) -> str | None:
        """A stored metadata value (e.g. the org id this ledger belongs to)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a metadata value."""
        with self.transaction():
            self.db.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


DetailColumns = tuple[
    int | None, str | None, str | None, str | None, str | None, int, str | None, str | None, str | None
]
# The detail columns of `contact_state` and `org_details` are named as the details, in their order.
DETAIL_COLUMNS = ", ".join(DETAIL_NAMES)


def marks(count: int) -> str:
    """`?, ?, …` for an INSERT of `count` values."""
    return ", ".join("?" * count)


_STATE_INSERT = (
    f"INSERT OR REPLACE INTO contact_state (contact_id, kind, {DETAIL_COLUMNS}, last_activity_on, lines,"
    f" scored_at) VALUES ({marks(len(DETAIL_NAMES) + 5)})"
)


def details_columns(d: RecruitmentDetails) -> DetailColumns:
    """Recruitment details as the ledger's columns (score, band, medal, two ISO dates, the trend flag,
    the last engagement's ISO date and rule, the explanation)."""
    return (
        d.score,
        d.band.value if d.band else None,
        d.medal.value if d.medal else None,
        day_text(d.first_qualified_on),
        day_text(d.first_placed_on),
        int(d.heating_up),
        day_text(d.last_engaged_on),
        d.last_engaged_by,
        d.explanation,
    )


def details_of(
    score: int | None,
    band: str | None,
    medal: str | None,
    fq: str | None,
    fp: str | None,
    heating_up: int | None = None,
    engaged_on: str | None = None,
    engaged_by: str | None = None,
    explanation: str | None = None,
) -> RecruitmentDetails:
    """Recruitment details from the ledger's columns (the inverse of `details_columns`; rows from
    before the trend columns have five)."""
    details = RecruitmentDetails(
        score,
        Band(band) if band else None,
        Medal(medal) if medal else None,
        parse_day(fq),
        parse_day(fp),
        bool(heating_up),
        parse_day(engaged_on),
        engaged_by or None,
        explanation or None,
    )
    return EMPTY_DETAILS if details.is_empty else details


def _state(raw: Sequence[Any]) -> StoredState:
    contact_id, kind, score, band, medal, fq, fp, last, lines, _scored_at, *trend = raw
    details = details_of(score, band, medal, fq, fp, *trend)
    return StoredState(contact_id, ContactKind(kind), details, parse_day(last), lines_of(lines))
