"""Time `evaluate` (weekly snapshots rebuilt from the ledger) on a ledger made by bench/make_ledger.py.

    .venv/bin/python bench/evaluate.py /tmp/bench/s.db [--config config.example.toml] [--horizon 14]

Reads only. Prints one JSON object: snapshots, observations, seconds, peak RSS (`ru_maxrss`).
Not run by CI.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import timedelta
from pathlib import Path

from connector.config import load_settings
from connector.events import from_micros
from connector.ledger import Ledger
from connector.shell.evaluate import evaluate

EXAMPLE = Path(__file__).resolve().parent.parent / "connector" / "config.example.toml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--config", type=Path, default=EXAMPLE)
    parser.add_argument("--horizon", type=int, default=14)
    parser.add_argument("--outcome", default="intake")
    args = parser.parse_args()
    settings = load_settings(args.config)
    with Ledger(args.ledger) as ledger:
        last = ledger.db.execute("SELECT max(at) FROM events").fetchone()[0]
        now = from_micros(int(last))
        started = time.perf_counter()
        run = evaluate(ledger, [settings], outcome=args.outcome, horizon=timedelta(days=args.horizon),
                       every=timedelta(days=7), since=None, now=now)  # fmt: skip
        seconds = time.perf_counter() - started
    result = run.results[0]
    print(json.dumps({
        "snapshots": len(run.snapshots), "observations": result.n,
        "outcomes": result.outcomes, "auc": result.auc, "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
