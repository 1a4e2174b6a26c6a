"""What `pixel.privacy.minimise` (site hosts, query strings, referrer hosts; issue 15) costs per hit.

    .venv/bin/python bench/pixel_minimise_bench.py

The bench's own lines (bench/pixel_bench.py), parsed once; best of 5 CPU-time runs. Figures: bench/README.md.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from pixel_bench import generate

from connector.pixel.pipeline import Counts, parse_lines
from connector.pixel.privacy import minimise
from tests.pixel.helpers import settings

s = settings()
for fmt in ("ndjson", "combined"):
    lines, _ = generate(200_000, fmt)
    hits = parse_lines(lines, fmt, s, Counts())
    best = 1e9
    for _ in range(5):
        t = time.process_time()
        minimise(hits, s, Counts())
        best = min(best, time.process_time() - t)
    print(fmt, f"minimise {best / len(hits) * 1e9:.0f} ns/hit")
    s2 = settings(site_hosts=("www.example-agency.nl",))
    best = 1e9
    for _ in range(5):
        t = time.process_time()
        minimise(hits, s2, Counts())
        best = min(best, time.process_time() - t)
    print(fmt, f"minimise with site_hosts {best / len(hits) * 1e9:.0f} ns/hit")
