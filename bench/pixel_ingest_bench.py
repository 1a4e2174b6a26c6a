"""Pixel end to end: `pixel ingest` of a log file into a ledger, then the runs a daemon makes after it.

    .venv/bin/python bench/pixel_ingest_bench.py --lines 200000 --format combined

Writes synthetic lines (bench/pixel_bench.py's generator) ending a minute before `now`, so anonymous
hits wait for their visitor as on a live site, and times with the real shell (file read, parse,
pipeline, pending state and events in one transaction):
  first    the whole file into an empty ledger (a first start, or catching up);
  poll     the next run after 2,000 more lines were appended (a busy site between two polls);
  idle     a run with nothing new.
A run's cost should follow its own lines, not the hits still waiting from earlier runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pixel_bench import SECRET, generate  # type: ignore[import-not-found]
from pydantic import SecretStr

from connector.config.pixel import PixelSettings
from connector.events import CONTACT_UPDATED, make_event
from connector.ledger import Ledger
from connector.shell.pixel import ingest_files

SUFFIX = {"ndjson": ".ndjson", "csv": ".csv", "combined": ".log"}
HEADER = b"time,url,referrer,user_agent,ip,visitor_id,token\n"


def main() -> None:
    """Write the log, run the three ingests, print their times."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--format", choices=sorted(SUFFIX), default="combined")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    # ~1 s between lines on average: the log spans about `lines` seconds up to a minute ago.
    start = now - timedelta(seconds=args.lines + 60)
    lines, consented = generate(args.lines + 2_000, args.format, start=start)
    first, later = lines[: args.lines], lines[args.lines :]
    settings = PixelSettings(token_secret=SecretStr(SECRET), max_hits_per_minute=600)
    with tempfile.TemporaryDirectory() as folder, Ledger(Path(folder) / "ledger.db") as ledger:
        log = Path(folder) / f"hits{SUFFIX[args.format]}"
        log.write_bytes((HEADER if args.format == "csv" else b"") + b"\n".join(first) + b"\n")
        ledger.append([make_event(c, CONTACT_UPDATED, start, {"tracking_consent": True}) for c in consented])
        runs = [("first", len(first), now)]
        for name, count, at in [*runs, ("poll", len(later), now + timedelta(hours=1)), ("idle", 0, now)]:
            if name == "poll":
                with log.open("ab") as out:
                    out.write(b"\n".join(later) + b"\n")
            began = time.perf_counter()
            report = ingest_files(ledger, settings, [log], at)
            took = time.perf_counter() - began
            waiting = ledger.db.execute("SELECT count(*) FROM pixel_pending").fetchone()[0]
            rate = f" = {count / took:>8,.0f} lines/s" if count else ""
            print(
                f"{args.format} {name:5s} {count:>8,} lines in {took:6.2f}s{rate};"
                f" events added {report.added:,}, hits waiting in the ledger {waiting:,}"
            )


if __name__ == "__main__":
    main()
