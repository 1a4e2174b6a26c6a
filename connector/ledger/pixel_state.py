"""What the pixel room remembers between runs, stored beside the events; and who consented to tracking.

The ledger knows only events, so the state travels as plain tuples; the pixel shell converts. The
state is saved in the same transaction as the events it led to: a crash leaves either both or neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connector.events import CONTACT_UPDATED, Event
from connector.ledger.store import AppendResult, Ledger, from_micros, to_micros

# (key "device:inode", path last seen, bytes read, sha256 of the head, head length)
FileRow = tuple[str, str, int, str, int]
# (hit id, contact id or '' while anonymous, visitor id, time, page URL, referrer)
PendingRow = tuple[str, str, str, datetime, str, str]


@dataclass(frozen=True)
class StoredPixelState:
    """The pixel state as rows: file marks, visitor links, shared visitors, pending hits."""

    files: list[FileRow] = field(default_factory=list)
    links: Mapping[str, str] = field(default_factory=dict)
    shared: frozenset[str] = frozenset()
    pending: list[PendingRow] = field(default_factory=list)


def load_pixel_state(ledger: Ledger) -> StoredPixelState:
    """Everything the pixel room stored after its last run."""
    db = ledger.db
    files = [
        (str(k), str(p), int(o), str(h), int(n))
        for k, p, o, h, n in db.execute("SELECT key, path, read_to, head, head_len FROM pixel_files")
    ]
    links: dict[str, str] = {}
    shared: set[str] = set()
    for visitor, contact, is_shared in db.execute(
        "SELECT visitor_id, contact_id, shared FROM pixel_visitors"
    ):
        if is_shared:
            shared.add(visitor)
        elif contact:
            links[visitor] = contact
    pending = [
        (i, c, v, from_micros(at), u, r)
        for i, c, v, at, u, r in db.execute(
            "SELECT id, contact_id, visitor_id, at, url, referrer FROM pixel_pending ORDER BY at, id"
        )
    ]
    return StoredPixelState(files, links, frozenset(shared), pending)


def append_with_pixel_state(
    ledger: Ledger,
    events: Iterable[Event],
    state: StoredPixelState,
    cursors: Mapping[str, str] | None = None,
) -> AppendResult:
    """Store the new pixel state, append the events and move cursors, all in one transaction."""
    conn = ledger.db.conn
    # The state writes open the transaction implicitly (sqlite3's legacy mode, which sqlite-utils
    # uses); `Ledger.append` runs inside it and its `with conn` commits both or rolls both back.
    with conn:
        conn.executemany(
            "INSERT OR REPLACE INTO pixel_files (key, path, read_to, head, head_len) VALUES (?, ?, ?, ?, ?)",
            state.files,
        )
        # Links and pending hits are replaced wholesale: whatever the run dropped (a withdrawn
        # consent, an expired anonymous hit) must not linger.
        conn.execute("DELETE FROM pixel_visitors")
        conn.executemany(
            "INSERT INTO pixel_visitors (visitor_id, contact_id, shared) VALUES (?, ?, 0)",
            sorted((v, c) for v, c in state.links.items() if v not in state.shared),
        )
        conn.executemany(
            "INSERT INTO pixel_visitors (visitor_id, contact_id, shared) VALUES (?, NULL, 1)",
            sorted((v,) for v in state.shared),
        )
        conn.execute("DELETE FROM pixel_pending")
        conn.executemany(
            "INSERT OR IGNORE INTO pixel_pending (id, contact_id, visitor_id, at, url, referrer)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(i, c, v, to_micros(at), u, r) for i, c, v, at, u, r in state.pending],
        )
        return ledger.append(events, cursors=cursors)


def consented_contacts(ledger: Ledger) -> set[str]:
    """Contacts whose latest `contact.updated` event with `tracking_consent` says true."""
    rows = ledger.db.execute(
        "SELECT contact_id, at, id, json_extract(attrs, '$.tracking_consent') FROM events"
        " WHERE kind = ? AND json_type(attrs, '$.tracking_consent') IN ('true', 'false')",
        [CONTACT_UPDATED],
    )
    latest: dict[str, tuple[int, str, bool]] = {}
    for contact_id, at, event_id, consent in rows:
        seen = latest.get(contact_id)
        if seen is None or (at, event_id) > seen[:2]:
            latest[contact_id] = (at, event_id, bool(consent))
    return {contact_id for contact_id, (_, _, yes) in latest.items() if yes}
