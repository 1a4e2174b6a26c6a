"""API calls of `backfill` on an emulated org: the Bulk 2.0 query path against the REST query path.

Run: .venv/bin/python bench/backfill_bench.py [--applications 200000] [--contacts 20000] [--days 400]
Two identical emulated orgs (same seed) are backfilled from `--days` ago, once with the defaults
(a source window holding more than `bulk_query_threshold` rows is one Bulk 2.0 query job) and once
with Bulk query switched off (`bulk_query_threshold` above any window: REST queryAll, day slices of
2,000-row pages, as before). Prints one JSON object: calls per path (all HTTP requests the connector
sent, then split in reads and writes), seconds, and the ratio of the read calls.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connector.config import load_settings
from connector.emulator.org import OrgSettings
from connector.emulator.testing import running_emulator
from connector.emulator.values import Clock
from connector.ledger import Ledger
from connector.sf.client import SalesforceClient
from connector.shell.cycle import backfill_plan, run_backfill

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[1] / "connector" / "config.example.toml"
REST_ONLY = 10**12  # a bulk_query_threshold no window reaches


def seed(org: Any, applications: int, contacts: int, days: int, seed: int = 14) -> None:
    """Candidates and their applications, spread evenly at random over `days` before T0."""
    rng = random.Random(seed)
    store, rt = org.store, org.record_types["Candidate"]
    steps = [str(v) for v in org.schema["msf__Job_Application__c"].field("msf__Step__c").picklist]
    since = T0 - timedelta(days=days)
    people = [store.create("Contact", {"LastName": f"C{i:06d}", "RecordTypeId": rt}, at=since)
              for i in range(contacts)]  # fmt: skip
    jobs = [
        store.create("msf__Job__c", {"Name": f"V{i:04d}"}, at=since) for i in range(max(1, contacts // 50))
    ]
    for _ in range(applications):
        at = T0 - timedelta(seconds=rng.uniform(120, days * 86400 - 60))
        store.create("msf__Job_Application__c", {
            "msf__Candidate__c": rng.choice(people), "msf__Job__c": rng.choice(jobs),
            "msf__Step__c": rng.choice(steps),
        }, at=at)  # fmt: skip


def backfill(applications: int, contacts: int, days: int, bulk_query_threshold: int | None) -> dict[str, Any]:
    """Backfill a fresh emulated org once; the calls it cost."""
    with tempfile.TemporaryDirectory(prefix="backfill-bench-") as tmp, running_emulator(
        clock=Clock(frozen_at=T0), state_dir=Path(tmp) / "em", settings=OrgSettings(pod="Bf")
    ) as em:  # fmt: skip
        seed(em.org, applications, contacts, days)
        overrides = {} if bulk_query_threshold is None else {"bulk_query_threshold": bulk_query_threshold}
        settings = load_settings(EXAMPLE)
        settings = settings.model_copy(update={"salesforce": em.connector_settings(**overrides)})
        assert settings.salesforce is not None
        client = SalesforceClient(settings.salesforce, sleep=lambda _s: None, clock=em.org.clock.now)
        ledger = Ledger(Path(tmp) / "ledger.db")
        try:
            started = time.perf_counter()
            client.connect()
            windows = backfill_plan(client, settings, T0 - timedelta(days=days), T0)
            report = run_backfill(client, ledger, settings, T0, windows)
            seconds = time.perf_counter() - started
        finally:
            ledger.close()
        assert report.status.succeeded, report.reason
        return {
            "calls": client.calls, "read_calls": client.calls - report.write_calls,
            "write_calls": report.write_calls, "applications_read": report.fetched.get("applications", 0),
            "events_added": report.events_added, "endpoints": em.org.call_counts(),
            "seconds": round(seconds, 1),
        }  # fmt: skip


def compare(applications: int, contacts: int, days: int) -> dict[str, Any]:
    """Both paths on identical orgs, and the ratio of their read calls (REST / Bulk)."""
    bulk = backfill(applications, contacts, days, None)
    rest = backfill(applications, contacts, days, REST_ONLY)
    return {
        "applications": applications, "contacts": contacts, "days": days, "bulk": bulk, "rest": rest,
        "read_ratio": round(rest["read_calls"] / bulk["read_calls"], 1),
        "total_ratio": round(rest["calls"] / bulk["calls"], 1),
    }  # fmt: skip


def main() -> None:
    """Parse the sizes, run both paths, print the JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--applications", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=400)
    args = parser.parse_args()
    print(json.dumps(compare(args.applications, args.contacts, args.days), indent=2))


if __name__ == "__main__":
    main()
