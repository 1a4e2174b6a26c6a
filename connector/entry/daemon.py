"""The long-running daemon: log in (waiting for the org), apscheduler jobs, one instance per state folder,
signals; the probes and metrics it serves are in `health.py` and `metrics.py`."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from typing import IO

import structlog
from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from werkzeug.serving import BaseWSGIServer

from connector.config import Settings
from connector.entry.health import HealthState, health_app, serve
from connector.entry.metrics import Metrics
from connector.errors import FatalError, RetriableError
from connector.ledger import Ledger
from connector.ledger.sync_state import last_cycles
from connector.sf.port import OrgPort
from connector.shell.cycle import CycleReport
from connector.shell.service import CycleService
from connector.sync.schedule import missed_daily_pass

log = structlog.get_logger(__name__)
Clock = Callable[[], datetime]
STALE_POLLS = 3  # not ready once no cycle succeeded for this many poll intervals
LOGIN_BACKOFF = (2.0, 300.0)  # seconds: the first wait after a failed login, and the longest


class _StopRequested(BaseException):
    """SIGTERM / SIGINT before the scheduler started: unwinds a login in progress (as KeyboardInterrupt)."""


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


class Daemon:
    """Poll every `poll_interval_seconds`, re-score everyone daily; one job at a time.

    `login` (the client's `connect`) is tried first, with backoff while the org cannot be reached;
    without it the client is taken as logged in. `wait(seconds)` pauses between tries and returns
    True once the daemon is told to stop (tests pass one that does not sleep).
    """

    def __init__(
        self,
        settings: Settings,
        open_ledger: Callable[[], Ledger],
        client: OrgPort,
        clock: Clock = lambda: datetime.now(UTC),
        *,
        login: Callable[[], None] | None = None,
        wait: Callable[[float], bool] | None = None,
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
        self.stopping = threading.Event()
        self._login, self.wait = login, wait or self.stopping.wait
        self._logging_in = True  # alive before the scheduler runs: until it has started
        self.scheduler.add_listener(lambda _event: self._started(), EVENT_SCHEDULER_STARTED)
        self.health = HealthState(
            stale_after=timedelta(seconds=STALE_POLLS * settings.sync.poll_interval_seconds),
            hung_after=timedelta(seconds=settings.sync.hung_after_seconds),
            alive=lambda: not self.stopping.is_set() and (self._logging_in or self.scheduler.running),
            breaker_open_until=lambda: self.client.breaker.open_until,
        )

    def log_in(self) -> bool:
        """Log in, retrying with backoff while the org cannot be reached (readiness says why); False
        when told to stop first. A login the org refuses (bad key, secret, user) raises."""
        delay = LOGIN_BACKOFF[0]
        while self._login is not None:
            try:
                self._login()
                break
            except RetriableError as exc:
                retry_at = self.clock() + timedelta(seconds=delay)
                self.health.login_problem = f"{exc}; next try at {retry_at.isoformat(timespec='seconds')}"
                log.warning("login_failed", error=str(exc), retry_in_seconds=delay)
                if self.wait(delay):
                    return False
                delay = min(delay * 2, LOGIN_BACKOFF[1])
        with self.service.open_ledger() as ledger:
            org = self.client.org_id or ledger.meta("org_id") or ""
            ok = last_cycles(ledger, status="ok")
        self.health.logged_in, self.health.login_problem = True, ""
        self.metrics.login(org, self.settings.sync.poll_interval_seconds)
        if ok and ok[0]["finished_at"]:  # the ledger's last success counts after a restart too
            self.health.last_success_at = datetime.fromisoformat(ok[0]["finished_at"])
            self.metrics.last_success.labels(org).set(self.health.last_success_at.timestamp())
        log.info("logged_in", org_id=org)
        return True

    def cycle(self, kind: str = "poll") -> CycleReport | None:
        """Run one cycle now; a failure the policy says stops the daemon does, anything else is retried."""
        now = self.clock()
        started = monotonic()  # the cycle's duration for the metrics; `now` stays the cycle's time
        self.health.cycle_started_at = now
        try:
            outcome = self.service.cycle(kind, now)
        finally:
            self.health.cycle_started_at = None
        seconds = monotonic() - started
        if outcome.stop is not None:
            log.error("daemon_stopping", reason=str(outcome.stop))
            self.failure = outcome.stop
            self.scheduler.shutdown(wait=False)
            return None
        breaker = self.client.breaker
        self.metrics.record_org(
            self.client.usage, self.client.calls_by_kind, breaker.open_until if breaker.is_open(now) else None
        )
        report, health = outcome.report, self.health
        health.last_status = report.status if report is not None else "failed"
        if report is not None:
            self.metrics.record(report, now, seconds)
            health.held_back, health.last_failures = report.held_back, report.summary()["failures"]
            if report.status.succeeded:
                health.last_success_at = now
        if outcome.facts is not None:
            self.metrics.record_facts(outcome.facts, now, seconds)
        return report

    def missed_daily_pass(self) -> bool:
        """Whether a nightly pass was due while the daemon was down (and no cycle ran since)."""
        sync = self.settings.sync
        hour, minute = (int(part) for part in sync.daily_pass_at.split(":"))
        with self.service.open_ledger() as ledger:
            daily, last = last_cycles(ledger, kind="daily"), last_cycles(ledger)
        started = [datetime.fromisoformat(c[0]["started_at"]) if c else None for c in (daily, last)]
        return missed_daily_pass(self.clock(), time(hour, minute), self.settings.scoring.zone, *started)

    def start_health(self) -> str | None:
        """Serve the probes and /metrics on the configured port (0 in config = off)."""
        sync = self.settings.sync
        if sync.health_port == 0:
            return None
        app = health_app(self.health, self.metrics, self.clock)
        self.server = serve(sync.health_host, sync.health_port, app)
        return f"http://{sync.health_host}:{self.server.server_port}"

    def run(self) -> None:
        """Block until SIGTERM / SIGINT (the running cycle finishes first) or a fatal error."""
        sync = self.settings.sync

        def stop(signum: int, _frame: object) -> None:
            log.info("daemon_signal", signal=signal.Signals(signum).name)
            self.stopping.set()
            if self.scheduler.running:
                self.scheduler.shutdown(wait=True)
            elif self._logging_in:  # maybe asleep in the client's retry of an unreachable login: end it
                raise _StopRequested

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        url = self.start_health()
        log.info(
            "daemon_started", poll_seconds=sync.poll_interval_seconds, daily_at=sync.daily_pass_at, health=url
        )
        try:
            if self.log_in():
                self._schedule()
                self.scheduler.start()
        except _StopRequested:
            pass  # stopped before the scheduler ran: nothing was being written
        finally:
            self._logging_in = False
            if self.server is not None:
                self.server.shutdown()
            log.info("daemon_stopped")
        if self.failure is not None:
            raise self.failure

    def _started(self) -> None:
        self._logging_in = False

    def _schedule(self) -> None:
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
