"""Build a synthetic ledger through the real `Ledger.append` and measure ingest against bare SQLite.

    .venv/bin/python bench/make_ledger.py /tmp/bench/ledger.db --contacts 1000000 --events 20000000

Events arrive in time order over 90 days (the way a sync daemon delivers them), spread over the
contacts, with the kinds and attributes the built-in sources produce. The same rows are then written
with a bare `executemany` into a plain rowid table; both timings exclude generating the events.
Not run by CI (a smoke-size run is, from tests/bench).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate, islice
from pathlib import Path

from connector.events import (
    APPLICATION_STEP,
    APPOINTMENT_MADE,
    CONTACT_UPDATED,
    EMAIL_CLICKED,
    EMAIL_OPENED,
    EMAIL_REPLIED,
    WEB_JOB_VIEW,
    WEB_VISIT,
    Event,
)
from connector.ledger import Ledger
from connector.ledger.store import _event_row

SEED = 20260302
DAYS = 90
# The end of the generated window; the re-score benchmark scores at this moment.
NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
# Share of each kind in the stream (pixel and e-mail dominate, application steps are rarer).
KINDS = [
    (WEB_VISIT, 30),
    (WEB_JOB_VIEW, 15),
    (EMAIL_OPENED, 24),
    (EMAIL_CLICKED, 8),
    (EMAIL_REPLIED, 2),
    (APPLICATION_STEP, 10),
    (APPOINTMENT_MADE, 4),
    (CONTACT_UPDATED, 7),
]
# A candidate's application steps in order; after the last one the next step starts a new application.
JOURNEY = ["Websollicitatie", "Intake verwerkt", "Voorgesteld", "Aangenomen"]
CHUNK = 100_000  # events handed to one `append` call (one transaction), like one sync page set


def contact_id(n: int) -> str:
    """An 18-character Contact id (key prefix 003)."""
    return f"003Dm00000{n:08d}"


def generate(contacts: int, events: int, seed: int = SEED, now: datetime = NOW) -> Iterator[Event]:
    """Yield `events` events in time order over the `DAYS` before `now`, for `contacts` contacts."""
    rnd = random.Random(seed)
    kinds, weights = zip(*KINDS, strict=True)
    cumulative = list(accumulate(weights))
    start = now - timedelta(days=DAYS)
    span = (now - start).total_seconds() - 60
    stage = bytearray(contacts)  # each candidate's position in JOURNEY
    for i in range(events):
        # Sorted times: the i-th event lands in the i-th slice of the window.
        at = start + timedelta(seconds=int((i + rnd.random()) * span / events))
        n = rnd.randrange(contacts)
        cid = contact_id(n)
        kind = rnd.choices(kinds, cum_weights=cumulative)[0]
        attrs: dict[str, object]
        if kind == WEB_VISIT:
            attrs = {"visit_id": f"{cid}-v{i}", "pages": rnd.randint(1, 9), "landing_url": "/vacatures"}
        elif kind == WEB_JOB_VIEW:
            job = f"a0BDm00000{rnd.randrange(4000):08d}"
            attrs = {"job_id": job, "url": f"/vacatures/{job}"}
        elif kind in (EMAIL_OPENED, EMAIL_CLICKED, EMAIL_REPLIED):
            attrs = {"message_id": f"02sDm0000{rnd.randrange(10**9):09d}"}
        elif kind == APPLICATION_STEP:
            step = JOURNEY[stage[n]]
            stage[n] = (stage[n] + 1) % len(JOURNEY) if rnd.random() < 0.7 else 0
            attrs = {"step": step, "job_id": f"a0BDm00000{n % 4000:08d}", "application_id": f"a0C{n:015d}"}
        elif kind == APPOINTMENT_MADE:
            attrs = {"event_id": f"00U{i:015d}"}
        else:
            attrs = {"kind": "contact_person" if n % 20 == 0 else "candidate"}
        yield Event(f"{rnd.getrandbits(128):032x}", cid, kind, at, attrs)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Ingest timings of the real ledger and of the bare baseline, over the same rows."""

    events: int
    added: int
    ledger_seconds: float
    bare_seconds: float

    @property
    def ledger_rate(self) -> float:
        """Events per second through `Ledger.append`."""
        return self.events / self.ledger_seconds

    @property
    def bare_rate(self) -> float:
        """Rows per second through a bare `executemany` into a plain table."""
        return self.events / self.bare_seconds

    @property
    def ratio(self) -> float:
        """Ledger rate as a fraction of the bare rate."""
        return self.ledger_rate / self.bare_rate


def _bare_db(path: Path) -> sqlite3.Connection:
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE events (contact_id TEXT, id TEXT, kind TEXT, at INTEGER, attrs TEXT)")
    conn.commit()
    return conn


def build(
    path: Path, contacts: int, events: int, *, seed: int = SEED, baseline: bool = True, chunk: int = CHUNK
) -> IngestResult:
    """Write a fresh ledger at `path` (and a bare baseline beside it); return the timings."""
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    bare_path = path.with_name(path.name + ".bare")
    bare = _bare_db(bare_path) if baseline else None
    ledger_seconds = bare_seconds = 0.0
    added = 0
    stream = generate(contacts, events, seed)
    with Ledger(path) as ledger:
        while batch := list(islice(stream, chunk)):
            started = time.perf_counter()
            added += ledger.append(batch).added
            ledger_seconds += time.perf_counter() - started
            if bare is not None:
                rows = [_event_row(e) for e in batch]  # the same rows, prepared outside the timing
                started = time.perf_counter()
                with bare:
                    bare.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
                bare_seconds += time.perf_counter() - started
        ledger.set_meta("bench_now", NOW.isoformat())
    if bare is not None:
        bare.close()
        for leftover in bare_path.parent.glob(bare_path.name + "*"):
            leftover.unlink()
    return IngestResult(events, added, ledger_seconds, bare_seconds or float("nan"))


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Build the ledger, print the figures as JSON and return them."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("path", type=Path, help="ledger file to (re)create")
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--chunk", type=int, default=CHUNK, help="events per Ledger.append call")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare executemany run")
    args = parser.parse_args(argv)
    result = build(
        args.path, args.contacts, args.events, seed=args.seed, baseline=not args.no_baseline, chunk=args.chunk
    )
    figures = asdict(result) | {
        "contacts": args.contacts,
        "ledger_rate": round(result.ledger_rate),
        "bare_rate": round(result.bare_rate) if not args.no_baseline else 0,
        "ratio": round(result.ratio, 3) if not args.no_baseline else 0.0,
    }
    json.dump(figures, sys.stdout)
    sys.stdout.write("\n")
    return figures


if __name__ == "__main__":
    main()
