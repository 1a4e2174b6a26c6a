"""The long-running daemon: apscheduler jobs, one instance per state folder, signals, health and metrics."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from connector.config import Settings
from connector.errors import FatalError
from connector.ledger import Ledger
from connector.ledger.sync_state import last_cycles
from connector.sf.port import OrgPort
from connector.shell.cycle import CycleReport
from connector.shell.service import CycleService
from connector.sync.schedule import missed_daily_pass

log = structlog.get_logger(__name__)
Clock = Callable[[], datetime]


@contextmanager
def instance_lock(folder: Path) -> Iterator[None]:
    """Hold `daemon.lock` in the state folder: one writer per state; a second one is refused."""
    path = folder / "daemon.lock"
    handle: IO[str] = path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise FatalError(
                f"another msr-engage process (PID {holder}) writes to {folder}: stop it first (or let"
                " it finish), or give this one its own state folder (MSR_ENGAGE_HOME)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


class Metrics:
    """The daemon's Prometheus metrics and the facts `/healthz` reports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.last_success = Gauge(
            "msr_engage_last_success_timestamp_seconds",
            "End of the last successful cycle",
            registry=self.registry,
        )
        self.cycles = Counter(
            "msr_engage_cycles", "Cycles run, by status", ["status"], registry=self.registry
        )
        self.events = Counter(
            "msr_engage_events_ingested", "Events added to the ledger", registry=self.registry
        )
        self.writes = Counter(
            "msr_engage_records_written", "Records the org accepted", registry=self.registry
        )
        self.dead = Counter(
            "msr_engage_dead_letters", "Records the org refused for good", registry=self.registry
        )
        self.pixel_rejected = Counter(
            "msr_engage_pixel_lines_rejected",
            "Pixel lines not stored, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.source_failures = Counter(
            "msr_engage_source_failures",
            "Parts of other sources (the pixel) a cycle skipped, by source and reason",
            ["source", "reason"],
            registry=self.registry,
        )
        self.api_used = Gauge(
            "msr_engage_api_requests_used", "Org API requests used (24 h)", registry=self.registry
        )
        self.api_max = Gauge(
            "msr_engage_api_requests_max", "Org API request limit (24 h)", registry=self.registry
        )
        self.last_success_at: datetime | None = None
        self.last_status = "starting"
        self.last_failures: dict[str, int] = {}

    def record(self, report: CycleReport, usage: Any, at: datetime) -> None:
        """Fold one cycle's report into the metrics."""
        self.cycles.labels(report.status).inc()
        self.events.inc(report.events_added)
        self.writes.inc(report.succeeded)
        self.dead.inc(report.dead)
        for reason, count in report.rejected.items():
            self.pixel_rejected.labels(reason).inc(count)
        for failure in report.failures:
            self.source_failures.labels(failure.source, failure.reason.value).inc()
        self.last_status = report.status
        self.last_failures = report.summary()["failures"]
        if usage is not None:
            self.api_used.set(usage.used)
            self.api_max.set(usage.total)
        if report.status.succeeded:
            self.last_success_at = at
            self.last_success.set(at.timestamp())


def health_app(metrics: Metrics, stale_after: timedelta, clock: Clock) -> Callable[..., Any]:
    """WSGI app: `/healthz` (200 while cycles succeed recently, else 503) and `/metrics`."""

    @Request.application
    def app(request: Request) -> Response:
        if request.path == "/metrics":
            return Response(generate_latest(metrics.registry), mimetype="text/plain; version=0.0.4")
        if request.path == "/healthz":
            last = metrics.last_success_at
            healthy = last is not None and clock() - last <= stale_after
            # Skipped parts of other sources (the pixel) show here and in /metrics, but do not make
            # the daemon unhealthy: the org's changes are still being written.
            body = {
                "status": "ok" if healthy else "stale",
                "last_success": last.isoformat() if last else None,
                "last_cycle_status": metrics.last_status,
                "last_cycle_failures": metrics.last_failures,
            }
            return Response(json.dumps(body), status=200 if healthy else 503, mimetype="application/json")
        return Response("not found\n", status=404, mimetype="text/plain")

    return app


class _QuietHandler(WSGIRequestHandler):
    """No access log per probe: health checks every few seconds would drown the cycle logs."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class Daemon:
    """Poll every `poll_interval_seconds`, re-score everyone daily; one job at a time."""

    def __init__(
        self,
        settings: Settings,
        open_ledger: Callable[[], Ledger],
        client: OrgPort,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.settings, self.client, self.clock = settings, client, clock
        self.service = CycleService(settings, open_ledger, client)
        self.metrics = Metrics()
        self.failure: BaseException | None = None
        self.scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(1)},  # poll and daily pass never overlap
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=settings.scoring.zone,
        )
        self.server: BaseWSGIServer | None = None

    def cycle(self, kind: str = "poll") -> CycleReport | None:
        """Run one cycle now; a failure the policy says stops the daemon does, anything else is retried."""
        now = self.clock()
        outcome = self.service.cycle(kind, now)
        if outcome.stop is not None:
            log.error("daemon_stopping", reason=str(outcome.stop))
            self.failure = outcome.stop
            self.scheduler.shutdown(wait=False)
            return None
        if outcome.report is not None:
            self.metrics.record(outcome.report, self.client.usage, now)
        return outcome.report

    def missed_daily_pass(self) -> bool:
        """Whether a nightly pass was due while the daemon was down (and no cycle ran since)."""
        sync = self.settings.sync
        hour, minute = (int(part) for part in sync.daily_pass_at.split(":"))
        with self.service.open_ledger() as ledger:
            daily, last = last_cycles(ledger, kind="daily"), last_cycles(ledger)
        started = [datetime.fromisoformat(c[0]["started_at"]) if c else None for c in (daily, last)]
        return missed_daily_pass(self.clock(), time(hour, minute), self.settings.scoring.zone, *started)

    def start_health(self) -> str | None:
        """Serve /healthz and /metrics on the configured loopback port (0 in config = off)."""
        sync = self.settings.sync
        if sync.health_port == 0:
            return None
        stale = timedelta(seconds=3 * sync.poll_interval_seconds)
        self.server = make_server(
            sync.health_host, sync.health_port, health_app(self.metrics, stale, self.clock)
        )
        threading.Thread(target=self.server.serve_forever, name="health", daemon=True).start()
        return f"http://{sync.health_host}:{self.server.server_port}"

    def run(self) -> None:
        """Block until SIGTERM / SIGINT (the running cycle finishes first) or a fatal error."""
        sync = self.settings.sync
        hour, minute = (int(part) for part in sync.daily_pass_at.split(":"))
        self.scheduler.add_job(
            self.cycle,
            IntervalTrigger(seconds=sync.poll_interval_seconds),
            next_run_time=datetime.now(UTC),
            id="poll",
        )
        daily = CronTrigger(hour=hour, minute=minute, timezone=self.settings.scoring.zone)
        self.scheduler.add_job(self.cycle, daily, args=["daily"], id="daily")
        if self.missed_daily_pass():  # one executor thread: it runs before the first poll's re-score
            self.scheduler.add_job(self.cycle, args=["daily"], next_run_time=datetime.now(UTC), id="catch_up")

        def stop(signum: int, _frame: object) -> None:
            log.info("daemon_signal", signal=signal.Signals(signum).name)
            self.scheduler.shutdown(wait=True)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        url = self.start_health()
        log.info(
            "daemon_started", poll_seconds=sync.poll_interval_seconds, daily_at=sync.daily_pass_at, health=url
        )
        try:
            self.scheduler.start()
        finally:
            if self.server is not None:
                self.server.shutdown()
            log.info("daemon_stopped")
        if self.failure is not None:
            raise self.failure
