"""The sync daemon's bookkeeping in the ledger: org-shown details, record hashes, dead letters, cycles."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connector.details import DETAIL_NAMES, ShownDetails, StoredState
from connector.ledger.score_lines import lines_json, lines_of
from connector.ledger.store import (
    DETAIL_COLUMNS,
    Ledger,
    details_columns,
    details_of,
    in_chunks,
)
from connector.ledger.store import (
    marks as _marks,
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A write the org refused for good, kept until an operator retries it."""

    id: int
    contact_id: str
    object: str
    key_field: str
    key_value: str
    payload: Mapping[str, Any]
    error_code: str
    message: str
    failed_at: str


def record_hashes(ledger: Ledger, source: str, record_ids: Iterable[str]) -> dict[str, str]:
    """Stored hashes of the given records of one source."""
    found: dict[str, str] = {}
    for chunk, marks in in_chunks(list(record_ids)):
        sql = f"SELECT record_id, hash FROM record_hashes WHERE source = ? AND record_id IN ({marks})"
        found.update(ledger.db.execute(sql, [source, *chunk]).fetchall())
    return found


def save_hashes(ledger: Ledger, source: str, hashes: Mapping[str, str]) -> None:
    """Remember the watched-field hashes of records just read."""
    with ledger.transaction():
        ledger.db.conn.executemany(
            "INSERT OR REPLACE INTO record_hashes (source, record_id, hash) VALUES (?, ?, ?)",
            [(source, rid, h) for rid, h in hashes.items()],
        )


def _shown(raw: Sequence[Any]) -> ShownDetails:
    cid, score, band, medal, fq, fp, lines, _confirmed, *trend = raw
    return ShownDetails(cid, details_of(score, band, medal, fq, fp, *trend), lines_of(lines))


def shown_details(ledger: Ledger, contact_ids: Iterable[str] | None = None) -> dict[str, ShownDetails]:
    """What the org shows for the given contacts (all when None)."""
    if contact_ids is None:
        return {r.contact_id: r for r in map(_shown, ledger.db.execute("SELECT * FROM org_details"))}
    found: dict[str, ShownDetails] = {}
    for chunk, marks in in_chunks(list(contact_ids)):
        for raw in ledger.db.execute(f"SELECT * FROM org_details WHERE contact_id IN ({marks})", chunk):
            row = _shown(raw)
            found[row.contact_id] = row
    return found


def save_shown(
    ledger: Ledger, rows: Iterable[ShownDetails], at: datetime, *, keep_lines: bool = False
) -> None:
    """Record what the org shows; with `keep_lines`, score lines already known are kept (a contact read
    shows the fields, not the child lines)."""
    stamp = at.astimezone(UTC).isoformat()
    rows = list(rows)
    known = shown_details(ledger, [r.contact_id for r in rows]) if keep_lines else {}
    with ledger.transaction():
        ledger.db.conn.executemany(
            f"INSERT OR REPLACE INTO org_details (contact_id, {DETAIL_COLUMNS}, lines, confirmed_at)"
            f" VALUES ({_marks(len(DETAIL_NAMES) + 3)})",
            [
                (r.contact_id, *details_columns(r.details),
                 lines_json(known[r.contact_id].lines if r.contact_id in known else r.lines), stamp)
                for r in rows
            ],
        )  # fmt: skip


def pending_contacts(ledger: Ledger) -> list[tuple[StoredState, ShownDetails | None]]:
    """Contacts whose stored state differs from what the org shows, without an open dead letter."""
    differs = " OR ".join(f"s.{column} IS NOT o.{column}" for column in (*DETAIL_NAMES, "lines"))
    sql = f"""
        SELECT s.contact_id FROM contact_state s LEFT JOIN org_details o USING (contact_id)
        WHERE (s.score IS NOT NULL OR s.medal IS NOT NULL)
          AND (o.contact_id IS NULL OR {differs})
          AND s.contact_id NOT IN (SELECT contact_id FROM dead_letters)
        ORDER BY s.contact_id
    """
    ids = [row[0] for row in ledger.db.execute(sql)]
    states, orgs = ledger.states(ids), shown_details(ledger, ids)
    return [(states[cid], orgs.get(cid)) for cid in ids]


def count_scored(ledger: Ledger) -> int:
    """Contacts with non-empty details (the base of the change-share safety rail)."""
    sql = "SELECT count(*) FROM contact_state WHERE score IS NOT NULL OR medal IS NOT NULL"
    return int(ledger.db.execute(sql).fetchone()[0])


def add_dead_letters(ledger: Ledger, letters: Iterable[DeadLetter]) -> None:
    """Store refused writes (their ids are assigned by the ledger)."""
    with ledger.transaction():
        ledger.db.conn.executemany(
            "INSERT INTO dead_letters (contact_id, object, key_field, key_value, payload, error_code,"
            " message, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (d.contact_id, d.object, d.key_field, d.key_value, json.dumps(dict(d.payload), default=str),
                 d.error_code, d.message, d.failed_at)
                for d in letters
            ],
        )  # fmt: skip


def dead_letters(ledger: Ledger) -> list[DeadLetter]:
    """Every open dead letter, oldest first."""
    rows = ledger.db.execute("SELECT * FROM dead_letters ORDER BY id").fetchall()
    return [DeadLetter(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7], r[8]) for r in rows]


def clear_dead_letters(ledger: Ledger, ids: Iterable[int] | None = None) -> int:
    """Drop dead letters (all when None) so their contacts are planned again; return how many."""
    with ledger.transaction():
        if ids is None:
            return int(ledger.db.conn.execute("DELETE FROM dead_letters").rowcount)
        return int(
            ledger.db.conn.executemany("DELETE FROM dead_letters WHERE id = ?", [(i,) for i in ids]).rowcount
        )


def purge_contacts(ledger: Ledger, contact_ids: Iterable[str]) -> int:
    """Erase contacts (GDPR): events, state, org details and writes, hashes, dead letters, consent, pixel
    links and open visits; return the number of events purged."""
    ids = list(contact_ids)
    purged = 0
    with ledger.transaction():
        for chunk, marks in in_chunks(ids):
            purged += ledger.db.conn.execute(
                f"DELETE FROM events WHERE contact_id IN ({marks})", chunk
            ).rowcount
            for table in (
                "dirty",
                "contact_state",
                "org_details",
                "dead_letters",
                "web_pending",
                "org_children",
                "org_written",
                "contact_consent",
                "pixel_visitors",  # the contact's visitor links
                "pixel_pending",  # hits of the contact's visits still open
                "bulk_job_writes",  # the job still runs in the org; what it did is read back there
            ):
                ledger.db.conn.execute(f"DELETE FROM {table} WHERE contact_id IN ({marks})", chunk)
            # Only the contacts source keys its hashes by the contact's id, whatever it is called.
            ledger.db.conn.execute(f"DELETE FROM record_hashes WHERE record_id IN ({marks})", chunk)
    return purged


def start_cycle(ledger: Ledger, kind: str, at: datetime) -> int:
    """Log the start of a cycle; return its id."""
    with ledger.transaction():
        cur = ledger.db.conn.execute(
            "INSERT INTO cycles (kind, started_at, status) VALUES (?, ?, 'running')", (kind, at.isoformat())
        )
    return int(cur.lastrowid or 0)


def finish_cycle(
    ledger: Ledger, cycle_id: int, status: str, at: datetime, summary: Mapping[str, Any]
) -> None:
    """Log how a cycle ended, with its summary counts."""
    with ledger.transaction():
        ledger.db.conn.execute(
            "UPDATE cycles SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
            (at.isoformat(), status, json.dumps(dict(summary), default=str), cycle_id),
        )


def last_cycles(
    ledger: Ledger, limit: int = 1, status: str | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    """The most recent cycles (optionally only those with `status`, or of `kind`), newest first."""
    filters = [(column, value) for column, value in (("status", status), ("kind", kind)) if value]
    where = ("WHERE " + " AND ".join(f"{column} = ?" for column, _ in filters)) if filters else ""
    args: list[Any] = [value for _, value in filters]
    rows = ledger.db.execute(
        "SELECT id, kind, started_at, finished_at, status, summary FROM cycles"
        f" {where} ORDER BY id DESC LIMIT ?",
        [*args, limit],
    ).fetchall()
    keys = ("id", "kind", "started_at", "finished_at", "status", "summary")
    return [dict(zip(keys, (*r[:5], json.loads(r[5])), strict=True)) for r in rows]


def web_pending(ledger: Ledger) -> list[str]:
    """Contacts whose website visits / job views may differ from the org, without an open dead letter."""
    sql = (
        "SELECT contact_id FROM web_pending WHERE contact_id NOT IN (SELECT contact_id FROM dead_letters)"
        " ORDER BY contact_id"
    )
    return [row[0] for row in ledger.db.execute(sql)]


def confirmed_children(ledger: Ledger, external_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Child records as the org last accepted them: external id -> (contact, hash)."""
    found: dict[str, tuple[str, str]] = {}
    for chunk, marks in in_chunks(list(external_ids)):
        sql = f"SELECT external_id, contact_id, hash FROM org_children WHERE external_id IN ({marks})"
        found.update((ext, (contact, digest)) for ext, contact, digest in ledger.db.execute(sql, chunk))
    return found


def child_hashes(ledger: Ledger, external_ids: Iterable[str]) -> dict[str, str]:
    """Hashes of child records as the org last accepted them."""
    return {ext: digest for ext, (_, digest) in confirmed_children(ledger, external_ids).items()}


def confirm_children(ledger: Ledger, accepted: Iterable[tuple[str, str, str]], done: Iterable[str]) -> None:
    """Record accepted child records (external id, contact, hash) and clear contacts now in sync."""
    with ledger.transaction():
        ledger.db.conn.executemany("INSERT OR REPLACE INTO org_children VALUES (?, ?, ?)", list(accepted))
        ledger.db.conn.executemany("DELETE FROM web_pending WHERE contact_id = ?", [(c,) for c in done])


def reopen_children(
    ledger: Ledger, differ: Mapping[str, tuple[str, str]], gone: Iterable[str], contacts: Iterable[str]
) -> None:
    """Keep what the org holds of child records that differ from what it accepted (external id ->
    (contact, hash)), forget deleted ones, and queue their contacts for the web write-back."""
    with ledger.transaction():
        rows = [(ext, contact, digest) for ext, (contact, digest) in differ.items()]
        ledger.db.conn.executemany("INSERT OR REPLACE INTO org_children VALUES (?, ?, ?)", rows)
        ledger.db.conn.executemany("DELETE FROM org_children WHERE external_id = ?", [(g,) for g in gone])
        ledger.db.conn.executemany(
            "INSERT OR IGNORE INTO web_pending (contact_id) VALUES (?)", [(c,) for c in contacts]
        )


def save_written(ledger: Ledger, writes: Iterable[tuple[str, str, str]], at: datetime) -> None:
    """Remember that the org accepted these writes (object, record key, contact) in the cycle of `at`."""
    stamp = at.astimezone(UTC).isoformat()
    with ledger.transaction():
        ledger.db.conn.executemany(
            "INSERT OR REPLACE INTO org_written VALUES (?, ?, ?, ?)",
            [(obj, key, contact, stamp) for obj, key, contact in writes],
        )


def written_at(ledger: Ledger, obj: str, keys: Iterable[str]) -> dict[str, datetime]:
    """When the connector's latest accepted write of each of these records (of one object) was made."""
    found: dict[str, datetime] = {}
    for chunk, marks in in_chunks(list(dict.fromkeys(keys))):
        sql = f"SELECT record_key, written_at FROM org_written WHERE object = ? AND record_key IN ({marks})"
        found.update((key, datetime.fromisoformat(at)) for key, at in ledger.db.execute(sql, [obj, *chunk]))
    return found


def has_written(ledger: Ledger, obj: str) -> bool:
    """Whether the org ever accepted a write of this object from the connector."""
    sql = "SELECT 1 FROM org_written WHERE object = ? LIMIT 1"
    return ledger.db.execute(sql, [obj]).fetchone() is not None


def job_number_table(ledger: Ledger) -> dict[str, str]:
    """Vacancy number -> vacancy id, as last read from the org."""
    return dict(ledger.db.execute("SELECT number, job_id FROM job_numbers").fetchall())


def save_job_numbers(
    ledger: Ledger, pairs: Iterable[tuple[str, str]], cursor: tuple[str, str], at: datetime
) -> None:
    """Remember vacancy numbers and move their cursor, in one transaction."""
    with ledger.transaction():
        ledger.db.conn.executemany("INSERT OR REPLACE INTO job_numbers VALUES (?, ?)", list(pairs))
        ledger.set_cursor(*cursor, at)
