"""The daemon's Prometheus metrics: what an operator alerts on, every series labelled with the org id.

One daemon serves one org, so `org` is the same on every series of a process; it still goes on each,
so that one Prometheus (and one dashboard) can hold many orgs. The names here are the ones the alert
rules and the dashboard in `deploy/kubernetes/` use (a test compares them with `/metrics`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from connector.sf.policy import ApiUsage
from connector.shell.cycle import CycleReport
from connector.shell.service import LedgerFacts

PREFIX = "msr_engage_"
API_KINDS = ("rest_query", "rest_write", "bulk")  # `sf.client.call_kind`
# Seconds: a poll takes seconds, a full re-score of a large ledger minutes.
CYCLE_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# Seconds from the activity in the org to the write it accepted: the read lag (1 min) plus a poll or
# two at best; hours when the breaker held the connector back.
LATENCY_BUCKETS = (60, 120, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)


class Metrics:
    """The registry and every metric; `record` folds one cycle in."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.org = ""  # the org id, once a login named it
        self.cycles = Counter(f"{PREFIX}cycles", "Cycles run, by status", ["org", "status"], registry=r)
        self.cycle_seconds = Histogram(
            f"{PREFIX}cycle_duration_seconds", "How long a cycle took, by kind (poll, daily)",
            ["org", "kind"], buckets=CYCLE_BUCKETS, registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            f"{PREFIX}event_to_org_latency_seconds",
            "From an activity's time in the org to the end of the cycle whose write the org accepted",
            ["org"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.last_success = Gauge(
            f"{PREFIX}last_success_timestamp_seconds", "End of the last successful cycle", ["org"], registry=r
        )
        self.last_daily = Gauge(
            f"{PREFIX}last_nightly_pass_timestamp_seconds", "End of the last successful nightly pass",
            ["org"], registry=r,
        )  # fmt: skip
        self.poll_interval = Gauge(
            f"{PREFIX}poll_interval_seconds", "The configured poll interval", ["org"], registry=r
        )
        self.rail = Gauge(
            f"{PREFIX}rail_holding", "1 while the last cycle ended stopped by the rail (a rule change held"
            " back until --force)", ["org"], registry=r,
        )  # fmt: skip
        self.ready = Gauge(f"{PREFIX}ready", "1 while /readyz answers 200", ["org"], registry=r)
        self.events = Counter(f"{PREFIX}events_ingested", "Events added to the ledger", ["org"], registry=r)
        self.writes = Counter(f"{PREFIX}records_written", "Records the org accepted", ["org"], registry=r)
        self.dead = Counter(f"{PREFIX}dead_letters", "Records the org refused for good", ["org"], registry=r)
        self.dead_pending = Gauge(
            f"{PREFIX}dead_letters_pending", "Refused writes waiting for a retry", ["org"], registry=r
        )
        self.cursor_lag = Gauge(
            f"{PREFIX}cursor_lag_seconds", "How far behind the cycle's time an org source's cursor is",
            ["org", "source"], registry=r,
        )  # fmt: skip
        self.breaker = Gauge(
            f"{PREFIX}breaker_open", "1 while REQUEST_LIMIT_EXCEEDED holds calls back", ["org"], registry=r
        )
        self.breaker_until = Gauge(
            f"{PREFIX}breaker_open_until_timestamp_seconds", "When the open breaker lets calls through",
            ["org"], registry=r,
        )  # fmt: skip
        self.api_calls = Counter(
            f"{PREFIX}api_calls", "Requests sent to the org, by kind (rest_query, rest_write, bulk)",
            ["org", "kind"], registry=r,
        )  # fmt: skip
        self.api_used = Gauge(
            f"{PREFIX}api_requests_used", "Org API requests used (24 h)", ["org"], registry=r
        )
        self.api_max = Gauge(f"{PREFIX}api_requests_max", "Org API request limit (24 h)", ["org"], registry=r)
        self.api_left = Gauge(
            f"{PREFIX}api_requests_remaining", "Org API requests left (24 h)", ["org"], registry=r
        )
        self.contacts = Gauge(f"{PREFIX}contacts", "Scored contacts, by band", ["org", "band"], registry=r)
        self.pixel_rejected = Counter(
            f"{PREFIX}pixel_lines_rejected",
            "Pixel lines not stored, by reason",
            ["org", "reason"],
            registry=r,
        )
        self.source_failures = Counter(
            f"{PREFIX}source_failures",
            "Parts of other sources (the pixel) a cycle skipped, by source and reason",
            ["org", "source", "reason"], registry=r,
        )  # fmt: skip
        self._calls_seen: dict[str, int] = {}

    def text(self) -> bytes:
        """The exposition `/metrics` serves."""
        return generate_latest(self.registry)

    def login(self, org: str, poll_seconds: int) -> None:
        """Label every series with the org the login named; series that need a value from the start."""
        self.org = org
        self.poll_interval.labels(org).set(poll_seconds)
        for metric in (self.ready, self.rail, self.breaker, self.dead_pending):
            metric.labels(org).set(0)
        for kind in API_KINDS:
            self.api_calls.labels(org, kind)

    def record(self, report: CycleReport, at: datetime, seconds: float) -> None:
        """Fold one cycle's report in (`at`: the cycle's `now`; `seconds`: how long it ran)."""
        org = self.org
        self.cycles.labels(org, report.status).inc()
        self.cycle_seconds.labels(org, report.kind).observe(seconds)
        self.events.labels(org).inc(report.events_added)
        self.writes.labels(org).inc(report.succeeded)
        self.dead.labels(org).inc(report.dead)
        self.rail.labels(org).set(1 if report.held_back else 0)
        for reason, count in report.rejected.items():
            self.pixel_rejected.labels(org, reason).inc(count)
        for failure in report.failures:
            self.source_failures.labels(org, failure.source, failure.reason.value).inc()
        if report.status.succeeded:
            self.last_success.labels(org).set(at.timestamp())

    def record_facts(self, facts: LedgerFacts, at: datetime, seconds: float) -> None:
        """The ledger's side after a cycle: bands, dead letters, cursors, the nightly pass, latencies."""
        org = self.org
        for band, count in facts.bands.items():
            self.contacts.labels(org, band or "none").set(count)
        self.dead_pending.labels(org).set(facts.dead_letters)
        for source, cursor in facts.cursors.items():
            self.cursor_lag.labels(org, source).set(max(0.0, (at - cursor).total_seconds()))
        if facts.last_daily is not None:
            self.last_daily.labels(org).set(facts.last_daily.timestamp())
        accepted = at.timestamp() + seconds  # the cycle's end: its writes were accepted by then
        for activity in facts.written_activity:
            self.latency.labels(org).observe(max(0.0, accepted - activity.timestamp()))

    def record_org(
        self, usage: ApiUsage | None, calls: Mapping[str, int], open_until: datetime | None
    ) -> None:
        """The client's side: API usage, calls by kind (counted since the last call), the breaker."""
        org = self.org
        if usage is not None:
            self.api_used.labels(org).set(usage.used)
            self.api_max.labels(org).set(usage.total)
            self.api_left.labels(org).set(max(0, usage.total - usage.used))
        for kind, total in calls.items():
            self.api_calls.labels(org, kind).inc(total - self._calls_seen.get(kind, 0))
            self._calls_seen[kind] = total
        self.breaker.labels(org).set(1 if open_until is not None else 0)
        self.breaker_until.labels(org).set(open_until.timestamp() if open_until is not None else 0)
