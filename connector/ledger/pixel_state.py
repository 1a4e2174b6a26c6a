"""What the pixel room remembers between runs, stored beside the events; and who consented to tracking.

The ledger knows only events, so the state travels as plain tuples; the pixel shell converts. The
state is saved in the same transaction as the events it led to: a crash leaves either both or neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.events import Event, from_micros, to_micros
from connector.ledger.store import AppendResult, Ledger

# (key "device:inode", path last seen, bytes read, sha256 of the head, head length)
FileRow = tuple[str, str, int, str, int]
# (hit id, contact id or '' while anonymous, visitor id, time, page URL, referrer)
PendingRow = tuple[str, str, str, datetime, str, str]
# (visit id, contact id, UTC day "YYYY-MM-DD", visitor id): a visit counted against the day caps
DayRow = tuple[str, str, str, str]


@dataclass(frozen=True)
class StoredPixelState:
    """The pixel state as rows: file marks, visitor links, shared visitors, pending hits.

    `scope` holds the pending rows the state was loaded with (None: all of them). Storing a state
    replaces the rows of its scope with its `pending`; rows outside the scope stay as they are.
    Day rows are only added (and pruned by age and consent): `day_scope` says which were loaded.
    """

    files: list[FileRow] = field(default_factory=list)
    links: Mapping[str, str] = field(default_factory=dict)
    shared: frozenset[str] = frozenset()
    pending: list[PendingRow] = field(default_factory=list)
    scope: frozenset[PendingRow] | None = None
    day_visits: list[DayRow] = field(default_factory=list)
    day_scope: frozenset[DayRow] | None = None  # the day rows loaded (None: all); the others are added


_PENDING_COLUMNS = "SELECT id, contact_id, visitor_id, at, url, referrer FROM pixel_pending"
_VISITOR_COLUMNS = "SELECT visitor_id, contact_id, shared FROM pixel_visitors"


def load_file_rows(ledger: Ledger) -> list[FileRow]:
    """Where each pixel file was read to."""
    return [
        (str(k), str(p), int(o), str(h), int(n))
        for k, p, o, h, n in ledger.db.execute("SELECT key, path, read_to, head, head_len FROM pixel_files")
    ]


def load_pixel_state(
    ledger: Ledger, visitors: Iterable[str] | None = None, earliest: datetime | None = None
) -> StoredPixelState:
    """What the pixel room stored: every pending hit, or (given `visitors`) only what a run needs.

    A run needs the pending hits of the visitors it saw (they may be credited now) and those of
    visits still open; anonymous hits of other visitors only wait, and stay in the ledger unread.
    It needs the day rows of the days it may credit: from the day of `earliest` (its first hit) or
    of the first pending hit loaded, whichever is older; one query.
    """
    db = ledger.db
    files = load_file_rows(ledger)
    if visitors is None:
        marks_rows = list(db.execute(_VISITOR_COLUMNS))
        rows = list(db.execute(f"{_PENDING_COLUMNS} ORDER BY at, id"))
    else:
        wanted = sorted(set(visitors) - {""})  # hits without a cookie have no link and never wait
        marks_rows = _by_visitor(ledger, f"{_VISITOR_COLUMNS} WHERE true", wanted)
        rows = list(db.execute(f"{_PENDING_COLUMNS} WHERE contact_id != ''"))
        rows += _by_visitor(ledger, f"{_PENDING_COLUMNS} WHERE contact_id = ''", wanted)
        rows.sort(key=lambda row: (row[3], row[0]))
    links: dict[str, str] = {}
    shared: set[str] = set()
    for visitor, contact, is_shared in marks_rows:
        if is_shared:
            shared.add(visitor)
        elif contact:
            links[visitor] = contact
    pending = [(i, c, v, from_micros(at), u, r) for i, c, v, at, u, r in rows]
    scope = None if visitors is None else frozenset(pending)
    days = "SELECT visit_id, contact_id, day, visitor_id FROM pixel_day_visits"
    if visitors is None:
        day_rows = list(db.execute(days))
    else:
        starts = [at for at in (earliest, pending[0][3] if pending else None) if at is not None]
        since = min(starts).date().isoformat() if starts else "9999-12-31"
        day_rows = list(db.execute(f"{days} WHERE day >= ?", [since]))
    day_visits: list[DayRow] = [(str(i), str(c), str(d), str(v)) for i, c, d, v in day_rows]
    day_scope = None if visitors is None else frozenset(day_visits)
    return StoredPixelState(files, links, frozenset(shared), pending, scope, day_visits, day_scope)


def _by_visitor(ledger: Ledger, query: str, visitors: list[str]) -> list[tuple[Any, ...]]:
    """Rows of `query` (ending in a WHERE condition) for these visitors, asked in chunks."""
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(visitors), _CHUNK):
        chunk = visitors[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        found.extend(ledger.db.execute(f"{query} AND visitor_id IN ({marks})", chunk))
    return found


_CHUNK = 500  # visitor ids per query (SQLite allows 32,766 parameters; smaller keeps plans simple)


def append_with_pixel_state(
    ledger: Ledger,
    events: Iterable[Event],
    state: StoredPixelState,
    cursors: Mapping[str, str] | None = None,
    expire_before: datetime | None = None,
    *,
    at: datetime,
) -> tuple[AppendResult, int]:
    """Store the new pixel state, append the events and move cursors, all in one transaction.

    With `expire_before`, anonymous pending hits older than it are deleted too (the window ended
    before their visitor became known); returns the append's result and how many hits that was.
    """
    conn = ledger.db.conn
    with ledger.transaction():
        conn.executemany(
            "INSERT OR REPLACE INTO pixel_files (key, path, read_to, head, head_len) VALUES (?, ?, ?, ?, ?)",
            state.files,
        )
        # A whole state replaces the stored one; a run's state (with a scope) holds the links of its
        # own visitors only, so it adds and updates, and links of contacts without consent (a
        # withdrawn one) are deleted here: whatever the run dropped must not linger.
        if state.scope is None:
            conn.execute("DELETE FROM pixel_visitors")
        conn.executemany(
            "INSERT OR REPLACE INTO pixel_visitors (visitor_id, contact_id, shared) VALUES (?, ?, 0)",
            sorted((v, c) for v, c in state.links.items() if v not in state.shared),
        )
        conn.executemany(
            "INSERT OR REPLACE INTO pixel_visitors (visitor_id, contact_id, shared) VALUES (?, NULL, 1)",
            sorted((v,) for v in state.shared),
        )
        if state.scope is not None:
            conn.execute(
                "DELETE FROM pixel_visitors WHERE shared = 0 AND contact_id NOT IN"
                " (SELECT contact_id FROM contact_consent WHERE consent = 1)"
            )
        pending = state.pending
        if state.scope is None:
            conn.execute("DELETE FROM pixel_pending")
        else:
            # Only what changed: rows of the scope the run used up, and rows the run added. A row
            # kept as it was (a hit still waiting) is neither deleted nor written again.
            kept = set(pending)
            gone = [(row[0],) for row in state.scope if row not in kept]
            conn.executemany("DELETE FROM pixel_pending WHERE id = ?", gone)
            pending = [row for row in pending if row not in state.scope]
        conn.executemany(
            "INSERT OR IGNORE INTO pixel_pending (id, contact_id, visitor_id, at, url, referrer)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(i, c, v, to_micros(at), u, r) for i, c, v, at, u, r in pending],
        )
        _store_day_visits(ledger, state)
        expired = 0
        if expire_before is not None:
            expired = conn.execute(
                "DELETE FROM pixel_pending WHERE contact_id = '' AND at < ?", [to_micros(expire_before)]
            ).rowcount
            conn.execute("DELETE FROM pixel_day_visits WHERE day < ?", [expire_before.date().isoformat()])
        for name, value in (cursors or {}).items():
            ledger.set_cursor(name, value, at)
        return ledger.append(events), expired


def _store_day_visits(ledger: Ledger, state: StoredPixelState) -> None:
    """Add the day rows a run counted; those of contacts without consent go (a withdrawn one)."""
    conn = ledger.db.conn
    if state.day_scope is None:
        conn.execute("DELETE FROM pixel_day_visits")
    added = state.day_visits if state.day_scope is None else [
        row for row in state.day_visits if row not in state.day_scope
    ]  # fmt: skip
    conn.executemany(
        "INSERT OR IGNORE INTO pixel_day_visits (visit_id, contact_id, day, visitor_id) VALUES (?, ?, ?, ?)",
        added,
    )
    if state.day_scope is not None:
        conn.execute(
            "DELETE FROM pixel_day_visits WHERE contact_id NOT IN"
            " (SELECT contact_id FROM contact_consent WHERE consent = 1)"
        )


def consented_contacts(ledger: Ledger) -> set[str]:
    """Contacts whose latest `contact.updated` event with `tracking_consent` says true."""
    # contact_consent is kept by a trigger on the events table (see migrations.contact_consent).
    return {
        str(row[0]) for row in ledger.db.execute("SELECT contact_id FROM contact_consent WHERE consent = 1")
    }
