"""Time a full re-score of a ledger against a bare ordered scan, then an incremental re-score.

    .venv/bin/python bench/rescore.py /tmp/bench/ledger.db [--config config.example.toml]

Works on a copy-free ledger made by bench/make_ledger.py; it writes contact state into it (as the
real job does). Steps: a bare `SELECT ... ORDER BY contact_id` iterated in Python; the full re-score
through `jobs.rescore(..., everyone=True)` (the first run writes every state, a repeat writes only
what changed); then 1,000 new events are appended and the incremental re-score is timed. Peak RSS is
the process's `ru_maxrss`, so run the full re-score in a fresh process to see its own peak.
Not run by CI (a smoke-size run is, from tests/bench).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from connector.config import Settings, load_settings
from connector.events import EMAIL_CLICKED, Event
from connector.ledger import Ledger
from connector.shell.rescore import rescore

EXAMPLE = Path(__file__).resolve().parent.parent / "connector" / "config.example.toml"


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set so far, in MiB (Linux reports KiB), of this process or its largest child."""
    return resource.getrusage(who).ru_maxrss / 1024


def bare_scan(ledger: Ledger) -> tuple[int, float]:
    """Rows seen and seconds taken by the ordered scan alone, iterated in Python."""
    started = time.perf_counter()
    rows = 0
    for _row in ledger.db.conn.execute(
        "SELECT contact_id, id, kind, at, attrs FROM events ORDER BY contact_id"
    ):
        rows += 1
    return rows, time.perf_counter() - started


def new_events(ledger: Ledger, count: int, now: datetime) -> list[Event]:
    """`count` fresh clicks for random existing contacts, in the hour before `now`."""
    rnd = random.Random(ledger.count_events())  # a new seed each run on the same ledger: new ids
    ids = [row[0] for row in ledger.db.execute("SELECT contact_id FROM contact_state LIMIT 100000")]
    return [
        Event(
            f"{rnd.getrandbits(128):032x}",
            rnd.choice(ids),
            EMAIL_CLICKED,
            now - timedelta(seconds=rnd.randrange(3600)),
            {"message_id": f"02sNEW{i:09d}"},
        )
        for i in range(count)
    ]


def run(
    path: Path, settings: Settings, *, repeat: int = 1, new: int = 1_000, workers: int | None = None
) -> dict[str, float]:
    """The benchmark on one ledger; the figures as a flat dict."""
    figures: dict[str, float] = {}
    with Ledger(path) as ledger:
        stamp = ledger.meta("bench_now")
        if stamp is None:
            raise SystemExit(f"{path}: not made by bench/make_ledger.py (no bench_now)")
        now = datetime.fromisoformat(stamp)
        rows, seconds = bare_scan(ledger)
        figures |= {"events": rows, "bare_scan_s": seconds, "bare_scan_rate": rows / seconds}
        for attempt in range(1, repeat + 1):
            started = time.perf_counter()
            result = rescore(ledger, settings, now, everyone=True, workers=workers)
            seconds = time.perf_counter() - started
            figures |= {
                "contacts": result.scored,
                f"full_{attempt}_s": seconds,
                f"full_{attempt}_changed": result.changed,
                f"full_{attempt}_vs_bare": seconds / figures["bare_scan_s"],
                f"full_{attempt}_peak_rss_mb": peak_rss_mb(),
                f"full_{attempt}_helper_peak_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
            }
        batch = new_events(ledger, new, now)
        ledger.append(batch)
        started = time.perf_counter()
        result = rescore(ledger, settings, now)
        figures |= {
            "incremental_events": len(batch),
            "incremental_scored": result.scored,
            "incremental_changed": result.changed,
            "incremental_s": time.perf_counter() - started,
        }
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print the figures as JSON and return them."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("path", type=Path, help="ledger made by bench/make_ledger.py")
    parser.add_argument("--config", type=Path, default=EXAMPLE, help="rules to score with")
    parser.add_argument("--repeat", type=int, default=1, help="full re-scores in a row (first writes all)")
    parser.add_argument("--new", type=int, default=1_000, help="events appended before the incremental run")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: the job's choice)")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    figures = run(args.path, settings, repeat=args.repeat, new=args.new, workers=args.workers)
    json.dump(figures, sys.stdout)
    sys.stdout.write("\n")
    return figures


if __name__ == "__main__":
    main()
