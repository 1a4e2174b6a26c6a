"""Time migration `org_event_ids` (re-keying stored org events to contact-free ids) on a large ledger.

Builds a ledger at the schema before the migration with N org events whose ids have the old form
(and a share of web events it leaves alone), then opens it with `Ledger`, which applies the rest.
Prints one JSON object. Usage: .venv/bin/python bench/migrate_org_ids.py /tmp/bench/m.db --events 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils

from connector.events import legacy_org_event_id, org_event_id, to_micros
from connector.ledger import MIGRATIONS, Ledger
from connector.ledger.migrations import migrate

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KINDS = (("applications", "application.step", "application_id"), ("emails", "email.opened", "message_id"),
         ("appointments", "appointment.made", "event_id"))  # fmt: skip


def build(path: Path, events: int) -> None:
    """A pre-migration ledger: 80 % org events (old ids), 20 % web events."""
    path.unlink(missing_ok=True)
    db = sqlite_utils.Database(path)
    names = [m.__name__ for m in MIGRATIONS]
    migrate(db, MIGRATIONS[: names.index("merges")])
    db.conn.executemany(
        "INSERT INTO cursors VALUES (?, '2026-01-01T00:00:00Z', 'x')",
        [(f"sf:{s}",) for s in ("applications", "emails", "appointments", "job_numbers")],
    )
    rows = []
    for n in range(events):
        contact, at = f"003{n % 50000:015d}", T0 + timedelta(seconds=n)
        if n % 5 == 4:
            rows.append((contact, f"{n:032x}", "web.visit", to_micros(at), json.dumps({"pages": 2})))
            continue
        source, kind, attr = KINDS[n % 3]
        record = f"a0A{n:015d}"
        event_id = legacy_org_event_id(source, record, contact, kind, at)
        rows.append(
            (contact, event_id, kind, to_micros(at), json.dumps({attr: record, "job_id": "a0B" + "0" * 15}))
        )
    db.conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", sorted(rows))
    db.conn.commit()
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    args.path.parent.mkdir(parents=True, exist_ok=True)
    build(args.path, args.events)
    started = time.perf_counter()
    with Ledger(args.path) as ledger:
        seconds = time.perf_counter() - started
        sample = ledger.db.execute("SELECT contact_id, id, kind, at, attrs FROM events LIMIT 1000").fetchall()
    ok = 0
    for _contact, event_id, kind, at, attrs in sample:
        if kind.startswith("web."):
            continue
        source = next(s for s, k, _ in KINDS if k == kind)
        record = next(v for k, v in json.loads(attrs).items() if k != "job_id")
        ok += event_id == org_event_id(source, record, kind, T0 + timedelta(microseconds=at - to_micros(T0)))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    figures = {
        "events": args.events,
        "migrate_seconds": round(seconds, 2),
        "events_per_second": round(args.events / seconds),
        "sample_rekeyed": ok,
        "peak_rss_mb": rss,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
