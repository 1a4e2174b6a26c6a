"""The daemon's work per cycle: open the ledger, run the cycle with the pixel's sources, keep what
`status` shows (breaker, API usage, source failures). Scheduling, the instance lock, signals and the
health server are the entry point's (`entry/daemon.py`); the demo drives this service directly.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

import structlog

from connector.config import Settings
from connector.config.pixel import PixelSettings
from connector.events import parse_time
from connector.ledger import Ledger
from connector.ledger.gauges import contacts_by_band, pending_dead_letters, watch_new_events, written_activity
from connector.ledger.sync_state import job_number_table, last_cycles
from connector.pixel.bots import CrawlerFilter
from connector.pixel.pipeline import Toolkit
from connector.pixel.sources import HttpSession
from connector.sf.port import OrgPort
from connector.shell import pixel as pixel_shell
from connector.shell.cycle import CycleReport, OtherSource, SourceRun, run_cycle
from connector.shell.gather import refresh_job_numbers
from connector.shell.stages import Stage, Verdict, decide
from connector.shell.status import remember_failures

log = structlog.get_logger(__name__)
JOB_NUMBERS = "job numbers"


@dataclass(frozen=True, slots=True)
class LedgerFacts:
    """What the metrics read from the ledger after a cycle (the shell's part of `/metrics`)."""

    bands: dict[str, int]  # scored contacts per band
    dead_letters: int  # refused writes still pending
    cursors: dict[str, datetime]  # each org source's cursor: the end of the last window read
    last_daily: datetime | None  # when the last successful nightly pass ended
    written_activity: list[datetime]  # times of the activities this cycle added and got written


@dataclass(frozen=True, slots=True)
class CycleOutcome:
    """How one cycle of the service ended: its report, and the failure that must stop the daemon."""

    report: CycleReport | None  # None: the cycle could not start or did not finish
    stop: Exception | None = None
    facts: LedgerFacts | None = None


class CycleService:
    """One cycle at a time against one org and one ledger, with the pixel's sources when configured."""

    def __init__(
        self,
        settings: Settings,
        open_ledger: Callable[[], Ledger],
        client: OrgPort,
        session: HttpSession | None = None,
    ) -> None:
        # The ledger is opened per cycle: cycles run on the scheduler's worker thread, and SQLite
        # connections belong to the thread that opened them.
        self.settings, self.open_ledger, self.client = settings, open_ledger, client
        self.session = session
        # Crawler verdicts outlive a cycle: crawlerdetect costs ~70 us per user agent, and the same
        # agents come back every poll.
        self.crawlers = CrawlerFilter()

    def cycle(self, kind: str, now: datetime, *, dry_run: bool = False, force: bool = False) -> CycleOutcome:
        """Run one cycle at `now`; never raises: the outcome says whether the daemon must stop."""
        try:
            with (
                self.open_ledger() as ledger,
                structlog.contextvars.bound_contextvars(org_id=self.client.org_id),
            ):
                watch_new_events(ledger)
                try:
                    report = run_cycle(
                        self.client, ledger, self.settings, now, kind=kind, dry_run=dry_run, force=force,
                        other_sources=self.other_sources(),
                    )  # fmt: skip
                finally:
                    self._keep_org_facts(ledger)
                remember_failures(ledger, report.failures, now)
                facts = self.ledger_facts(ledger, now)
        # run_cycle lets out only what the policy says must stop the daemon; opening the ledger can
        # fail too (the start stage). The one policy decides both: for the org's stages it does not
        # depend on which stage it was.
        except Exception as exc:
            if decide(Stage.START, exc) is Verdict.STOP_DAEMON:
                return CycleOutcome(None, stop=exc)
            log.exception("cycle_failed", error=f"{type(exc).__name__}: {exc}")
            return CycleOutcome(None)
        return CycleOutcome(report, facts=facts)

    def ledger_facts(self, ledger: Ledger, now: datetime) -> LedgerFacts:
        """The ledger's side of the metrics, after the cycle of `now`."""
        cursors = {}
        for source in self.settings.org_sources():
            value = ledger.cursor(f"sf:{source.name}")
            if value:
                cursors[source.name] = parse_time(value)
        daily = last_cycles(ledger, status="ok", kind="daily")
        last_daily = datetime.fromisoformat(daily[0]["finished_at"]) if daily else None
        return LedgerFacts(
            contacts_by_band(ledger), pending_dead_letters(ledger), cursors, last_daily,
            written_activity(ledger, now),
        )  # fmt: skip

    def other_sources(self) -> list[OtherSource]:
        """The pixel's sources, in the order a cycle reads them (none without `[pixel]`)."""
        pixel = self.settings.pixel
        if pixel is None:
            return []
        sources = []
        if pixel.needs_job_numbers:  # vacancy URLs carry numbers: keep number -> id current
            sources.append(OtherSource(JOB_NUMBERS, self._job_numbers))
        sources.append(OtherSource(pixel_shell.FILES, lambda ledger, now: self._files(pixel, ledger, now)))
        if pixel.api is not None:
            sources.append(OtherSource(pixel_shell.API, lambda ledger, now: self._api(pixel, ledger, now)))
        return sources

    def _job_numbers(self, ledger: Ledger, now: datetime) -> SourceRun:
        return SourceRun(read=refresh_job_numbers(self.client, ledger, self.settings, now))

    def _kit(self, pixel: PixelSettings, ledger: Ledger) -> Toolkit:
        numbers = job_number_table(ledger) if pixel.needs_job_numbers else {}
        return Toolkit(pixel, crawlers=self.crawlers, job_numbers=numbers)

    def _files(self, pixel: PixelSettings, ledger: Ledger, now: datetime) -> SourceRun:
        files = pixel_shell.folder_files(pixel)
        if not files:
            return SourceRun(read=0)
        report = pixel_shell.ingest_files(ledger, pixel, files, now, self._kit(pixel, ledger))
        pixel_shell.remember_run(ledger, pixel_shell.FILES, report, now)
        return _source_run(report)

    def _api(self, pixel: PixelSettings, ledger: Ledger, now: datetime) -> SourceRun:
        if self.session is None:
            self.session = pixel_shell.http_session()
        report = pixel_shell.ingest_api(ledger, pixel, self.session, now, self._kit(pixel, ledger))
        pixel_shell.remember_run(ledger, pixel_shell.API, report, now)
        return _source_run(report)

    def _keep_org_facts(self, ledger: Ledger) -> None:
        open_until = self.client.breaker.open_until
        ledger.set_meta("breaker_open_until", open_until.isoformat() if open_until else "")
        usage = self.client.usage
        if usage is not None:
            ledger.set_meta("api_usage", f"{usage.used}/{usage.total}")


def _source_run(report: pixel_shell.PixelReport) -> SourceRun:
    rejected = {reason.value: n for reason, n in report.counts.rejected.items() if n}
    return SourceRun(report.counts.lines, report.added, rejected, tuple(report.failures))


def _org_bound(client: OrgPort, ledger: Ledger) -> AbstractContextManager[None]:
    """The org id on every log line of the cycle: the login's, else the one the ledger is bound to."""
    return structlog.contextvars.bound_contextvars(org_id=client.org_id or ledger.meta("org_id") or "")
