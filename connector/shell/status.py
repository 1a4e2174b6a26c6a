"""What `msr-engage status` shows, read from the ledger; and the facts only the daemon knows
(source failures), which it keeps there for `status` to read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from connector.details import ErasureReason
from connector.ledger import Ledger
from connector.ledger.bulk_jobs import count_in_flight
from connector.ledger.consent import web_withdrawn
from connector.ledger.erasure import org_errors, owed_to_org, tombstones
from connector.ledger.rule_sets import applied_rule_sets
from connector.ledger.sync_state import dead_letters, last_cycles, web_pending
from connector.shell.cycle import plan_writes
from connector.shell.gather import ENVIRONMENT_KEY
from connector.shell.pixel import API, FILES
from connector.shell.stages import CycleStatus, SourceFailure

FAILURES_KEY = "source failures"  # ledger meta: failure counts by "source: reason", and the last one
Facts = list[tuple[str, object]]


def remember_failures(ledger: Ledger, failures: Sequence[SourceFailure], now: datetime) -> None:
    """Add a cycle's source failures to the counts `status` shows; a whole source skipped is also
    that source's last run."""
    if not failures:
        return
    stored = json.loads(ledger.meta(FAILURES_KEY) or "{}")
    counts: dict[str, int] = stored.get("counts", {})
    for failure in failures:
        key = f"{failure.source}: {failure.reason.value}"
        counts[key] = counts.get(key, 0) + 1
    last = failures[-1]
    last_seen = {"at": now.isoformat(), "source": last.source, "reason": last.reason.value,
                 "part": last.part, "detail": last.detail}  # fmt: skip
    with ledger.transaction():
        ledger.set_meta(FAILURES_KEY, json.dumps({"counts": counts, "last": last_seen}))
        for failure in failures:
            if not failure.part:
                skipped = {"at": now.isoformat(), "skipped": failure.reason.value, "detail": failure.detail}
                ledger.set_meta(f"{failure.source} last run", json.dumps(skipped))


def status_facts(ledger: Ledger) -> dict[str, Facts]:
    """What `status` shows, grouped: ledger, last cycle, org API, other sources."""
    facts = {
        "Ledger": _ledger_facts(ledger),
        "Last cycle": _cycle_facts(ledger),
        "Org API": _api_facts(ledger),
    }
    for source in (FILES, API):
        stored = ledger.meta(f"{source} last run")
        if stored:
            facts[f"Last run: {source}"] = [(k.replace("_", " "), v) for k, v in json.loads(stored).items()]
    applied = applied_rule_sets(ledger)
    if applied:  # newest first: the first row is the rule set in force
        facts["Rule sets applied"] = [
            (
                r.fingerprint,
                f"{r.applied_at}, {r.contacts_changed} contacts changed{', forced' if r.forced else ''}",
            )
            for r in applied
        ]
    failures = json.loads(ledger.meta(FAILURES_KEY) or "{}")
    if failures:
        # Counted since the ledger began; a cycle with only these failures is still `ok`.
        rows: Facts = [(key, count) for key, count in sorted(failures["counts"].items())]
        last = failures["last"]
        where = f" {last['part']}" if last["part"] else ""
        rows.append(("last", f"{last['at']} {last['source']}{where}: {last['reason']} ({last['detail']})"))
        facts["Source failures (skipped, the org still written)"] = rows
    return facts


def _ledger_facts(ledger: Ledger) -> Facts:
    cursors = ledger.cursors()
    contact_writes, web_contacts = waiting_writes(ledger)
    stones = tombstones(ledger)
    return [
        ("ledger", ledger.path),
        ("org", ledger.meta("org_id") or "not bound yet"),
        ("environment", ledger.meta(ENVIRONMENT_KEY) or "not bound yet"),
        ("events", ledger.count_events()),
        ("contacts", ledger.count_contacts()),
        ("waiting to be re-scored", len(ledger.dirty_contacts())),
        ("dead letters", len(dead_letters(ledger))),
        ("erased contacts", sum(t.reason is not ErasureReason.MERGED for t in stones)),
        ("merged into another contact", sum(t.reason is ErasureReason.MERGED for t in stones)),
        ("erasures the org still owes (refused)", f"{len(owed_to_org(ledger))} ({len(org_errors(ledger))})"),
        ("withdrawn consents the org still owes", len(web_withdrawn(ledger))),
        ("waiting to be written: contact fields and score lines", contact_writes),
        ("waiting to be written: contacts with visits or job views", web_contacts),
        ("bulk jobs running (writes in them)", "{jobs} ({writes})".format(**count_in_flight(ledger))),
        *((f"cursor {name}", value) for name, value in cursors),
    ]


def _cycle_facts(ledger: Ledger) -> Facts:
    last = last_cycles(ledger)
    rows: Facts = []
    if last:
        c = last[0]
        rows = [("kind", c["kind"]), ("started", c["started_at"]), ("status", c["status"])]
        for key, value in c["summary"].items():
            if key == "status" or value in ("", {}, None):
                continue
            shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
            rows.append((key.replace("_", " "), shown))
    ok = last_cycles(ledger, status=CycleStatus.OK)
    rows.append(("last successful", ok[0]["finished_at"] if ok else "never"))
    return rows


def _api_facts(ledger: Ledger) -> Facts:
    breaker = ledger.meta("breaker_open_until") or ""
    return [
        ("API usage (used/limit)", ledger.meta("api_usage") or "unknown"),
        ("breaker", f"open until {breaker}" if breaker else "closed"),
    ]


def waiting_writes(ledger: Ledger) -> tuple[int, int]:
    """What the ledger still has to send: contact field / score-line writes, and contacts with web records.

    Derived from the ledger, not from the last cycle's answers, so a count falls only once the org
    confirmed the writes; contacts behind a dead letter are counted there instead.
    """
    return sum(int(bool(p.values)) + len(p.lines) for p in plan_writes(ledger)), len(web_pending(ledger))
