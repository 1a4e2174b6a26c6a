"""Pixel throughput: parse + robot filter + attribution + sessions over synthetic log lines (issue 6).

    .venv/bin/python bench/pixel_bench.py --lines 200000 --format combined

Generates seeded lines in memory (a realistic mix: a few hundred browsers, some crawlers, visitors
linked by tokens, vacancy pages, a little garbage), then times the pure path `parse_lines` → `process`
that `pixel ingest` runs between reading the files and writing the ledger. Target: >= 100,000 lines/s.
Generation is outside the timing; every run starts with cold caches (crawler verdicts, addresses...).
By default the run ends a minute after the last line (live: anonymous hits wait for their visitor);
`--backfill` runs 60 days later (they have all aged out). Figures: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from pydantic import SecretStr

from connector.config.pixel import PixelSettings
from connector.pixel.hits import forget_remembered
from connector.pixel.identity import sign_token
from connector.pixel.pipeline import Counts, PixelState, Toolkit, parse_lines, process

SECRET = "bench-secret-0123456789"  # noqa: S105 - a throwaway key for synthetic tokens
T0 = datetime(2026, 3, 2, tzinfo=UTC)
CRAWLERS = ["Googlebot/2.1 (+http://www.google.com/bot.html)", "Mozilla/5.0 (compatible; bingbot/2.0)"]


def browsers(rnd: random.Random, n: int) -> list[str]:
    return [
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{rnd.randint(100, 125)}.0.{rnd.randint(0, 6000)}.{rnd.randint(0, 200)} Safari/537.36"
        for _ in range(n)
    ]


def generate(lines: int, fmt: str, seed: int = 7, start: datetime = T0) -> tuple[list[bytes], set[str]]:
    """Synthetic hit lines of one format and the set of consented contacts (times from `start` on)."""
    rnd = random.Random(seed)
    agents = browsers(rnd, 400)
    visitors = [f"vis{i:07d}" for i in range(max(lines // 20, 1))]
    contacts = {v: f"003{i:012d}" for i, v in enumerate(visitors) if i % 3 == 0}
    consented = {c for i, c in enumerate(contacts.values()) if i % 2 == 0}
    jobs = [f"a0B{i:012d}" for i in range(500)]
    out: list[bytes] = []
    clock = start
    for i in range(lines):
        clock += timedelta(seconds=rnd.random() * 2)
        visitor = rnd.choice(visitors)
        page = (
            f"https://www.example-agency.nl/vacatures/{rnd.choice(jobs)}"
            if rnd.random() < 0.4
            else (f"https://www.example-agency.nl/{rnd.choice(['', 'over-ons', 'contact', 'vacatures'])}")
        )
        if visitor in contacts and rnd.random() < 0.05:
            page += f"?mt={sign_token(contacts[visitor], SECRET.encode())}"
        agent = rnd.choice(CRAWLERS) if rnd.random() < 0.03 else rnd.choice(agents)
        ip = f"203.0.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        if i % 500 == 0:
            out.append(b"garbage \xff line")
            continue
        if fmt == "ndjson":
            record = {"time": clock.isoformat(), "url": page, "referrer": "", "user_agent": agent, "ip": ip,
                      "visitor_id": visitor}  # fmt: skip
            out.append(json.dumps(record).encode())
        elif fmt == "csv":
            out.append(f'{clock.isoformat()},{page},,"{agent}",{ip},{visitor},'.encode())
        else:
            stamp = clock.strftime("%d/%b/%Y:%H:%M:%S +0000")
            request = f"GET /p.gif?u={quote(page, safe='')}&v={visitor} HTTP/1.1"
            out.append(f'{ip} - - [{stamp}] "{request}" 200 43 "{page}" "{agent}"'.encode())
    return out, consented


def main() -> None:
    """Generate, then time parse + filter + sessionise; print lines/s."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--format", choices=["ndjson", "csv", "combined", "all"], default="all")
    parser.add_argument("--repeat", type=int, default=5, help="best of N runs")
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="run 60 days after the log (anonymous hits have aged out) instead of just after its end",
    )
    args = parser.parse_args()
    settings = PixelSettings(token_secret=SecretStr(SECRET), max_hits_per_minute=600)
    header = b"time,url,referrer,user_agent,ip,visitor_id,token"
    formats = ["ndjson", "csv", "combined"] if args.format == "all" else [args.format]
    for fmt in formats:
        lines, consented = generate(args.lines, fmt)
        # Live (the daemon's case): the run ends a minute after the last line, so anonymous hits
        # within the attribution window wait for their visitor. Backfill: all of them have aged out.
        last = max(h.at for h in parse_lines(lines, fmt, settings, Counts(), header))
        now = T0 + timedelta(days=60) if args.backfill else last + timedelta(minutes=1)
        walls: list[float] = []
        cpus: list[float] = []
        for _ in range(args.repeat):
            # Fresh caches each run (crawler verdicts, addresses, minutes...): the run before read
            # the same lines, and a warm cache would time look-ups that a new log does not get.
            kit = Toolkit(settings)
            forget_remembered()
            started, cpu_started = time.perf_counter(), time.process_time()
            counts = Counts(lines=len(lines))
            hits = parse_lines(lines, fmt, settings, counts, header)  # type: ignore[arg-type]
            outcome = process(hits, counts, PixelState(), consented, kit, now)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu_started)
        best, worst = min(walls), max(walls)
        c = outcome.counts
        assert c.lines == c.credited + c.waiting + sum(c.rejected.values())
        rejected = ", ".join(f"{r.value}={n}" for r, n in sorted(c.rejected.items()) if n)
        # On a shared machine wall time includes waiting for a core; CPU time is what the work took.
        print(
            f"{fmt:9s} {len(lines):>8,} lines in {best:.3f}s = {len(lines) / best:>9,.0f} lines/s"
            f" (worst {len(lines) / worst:,.0f}; CPU-time rate {len(lines) / min(cpus):,.0f};"
            f" load {os.getloadavg()[0]:.2f})"
            f"  credited {c.credited:,}, waiting {c.waiting:,}, events {c.events:,}; {rejected}"
        )


if __name__ == "__main__":
    main()
