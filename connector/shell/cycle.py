"""One sync cycle, the imperative shell: read org windows → ledger → re-score → diff → write → confirm.

Every step is safe to repeat: events are idempotent by id, cursors move with their events, writes are
absolute values keyed by Id or external id, and confirmations are recorded only for accepted records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import structlog

from connector.config import Settings
from connector.ledger import Ledger
from connector.ledger.bulk_jobs import save_jobs
from connector.ledger.sync_state import (
    finish_cycle,
    pending_contacts,
    start_cycle,
)
from connector.sf.port import OrgPort
from connector.sf.readers import Source, Window, backfill_windows
from connector.sf.writer import Outcome
from connector.shell.apply import record_outcome, write_children_first
from connector.shell.bulk_jobs import collect_jobs, pending_of
from connector.shell.consent import delete_withdrawn_web
from connector.shell.erasure import erase_in_org
from connector.shell.gather import ensure_org, gather_source, refresh_shown
from connector.shell.readback import read_back
from connector.shell.rescore import rescore
from connector.shell.rules import score_under_rail
from connector.shell.sources import mapping_of, org_sources
from connector.shell.stages import (
    CycleStatus,
    FailureReason,
    SourceFailure,
    Stage,
    Verdict,
    decide,
    failure_reason,
    stopped_status,
)
from connector.shell.web import gather_web
from connector.sync.plan import (
    ContactPlan,
    contact_writes,
    plan_contact,
)
from connector.sync.web import WebPlan

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SourceRun:
    """What another source did in one cycle: how much it read, the events it added, the lines it
    rejected (by reason) and the parts it had to skip."""

    read: int
    added: int = 0
    rejected: Mapping[str, int] = field(default_factory=dict)
    failures: Sequence[SourceFailure] = ()


@dataclass(frozen=True, slots=True)
class OtherSource:
    """A source read after the org (the pixel's job numbers, files, API): its name and one run."""

    name: str
    run: Callable[[Ledger, datetime], SourceRun]


@dataclass
class CycleReport:
    """What one cycle did: the summary line and the status command's material.

    `status` is about the org's write-back: a cycle whose other sources failed but whose org
    changes were all read, scored and written is `ok`; those failures are in `failures`.
    """

    kind: str
    status: CycleStatus = CycleStatus.OK
    reason: str = ""
    fetched: dict[str, int] = field(default_factory=dict)
    events_added: int = 0
    erased: int = 0
    merged: int = 0  # contacts merged into another: their history moved to the survivor
    withdrawn: int = 0  # contacts whose tracking consent went from yes to no
    org_deleted: int = 0  # records deleted in the org: withdrawn contacts' web records, erased contacts'
    scored: int = 0
    planned: int = 0
    writes: int = 0
    web_writes: int = 0  # website visit and job view records among `writes`
    succeeded: int = 0
    dead: int = 0
    retriable: int = 0
    not_sent: int = 0  # writes the cycle stopped before: planned again next cycle
    in_flight: int = 0  # writes in a bulk job left running: collected by a later cycle
    collected: int = 0  # writes of earlier cycles' bulk jobs collected in this one
    write_calls: int = 0
    held_back: str = ""  # the rule change the rail held back ('' when none): a `stopped` cycle's cause
    oddities: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)  # lines of other sources, by reason
    failures: list[SourceFailure] = field(default_factory=list)  # what of other sources was skipped
    plan: list[ContactPlan] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Plain counts for logs, the cycle table and metrics."""
        names = ("status", "reason", "fetched", "events_added", "erased", "merged", "withdrawn",
                 "org_deleted", "scored", "planned", "writes", "web_writes", "succeeded", "dead", "retriable",
                 "not_sent", "in_flight", "collected", "write_calls")  # fmt: skip
        failures = Counter(f"{f.source}: {f.reason.value}" for f in self.failures)
        return {
            **{name: getattr(self, name) for name in names},
            "oddities": dict(self.oddities),
            "rejected": {reason: n for reason, n in self.rejected.items() if n},
            "failures": dict(failures),
        }


def plan_writes(ledger: Ledger) -> list[ContactPlan]:
    """Plans for every contact whose stored state differs from what the org shows."""
    plans = [plan_contact(state, shown) for state, shown in pending_contacts(ledger)]
    return [p for p in plans if p.values or p.lines]


def _gather(
    client: OrgPort,
    ledger: Ledger,
    settings: Settings,
    now: datetime,
    report: CycleReport,
    windows: dict[str, list[Window]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    # A poll reuses the ledger's answer on step-history tracking for a day; other jobs ask the org.
    for source in org_sources(client, settings, (ledger, now, report.kind == "poll")):
        given: list[Window] = (windows or {}).get(source.name, [])
        planned: list[Window | None] = [*given] if given else [None]
        for window in planned:
            batch = gather_source(client, ledger, settings, source, now, window)
            read = batch.oddities.pop("records", 0)
            report.fetched[source.name] = report.fetched.get(source.name, 0) + read
            report.erased += len(batch.erased)
            report.merged += len(batch.merged)
            report.withdrawn += len(batch.withdrawn)
            report.events_added += batch.added
            report.oddities.update(batch.oddities)
            if progress is not None:
                progress(1)
    back = read_back(client, ledger, settings, now)
    report.fetched.update(back.fetched)
    report.oddities.update(back.oddities)


def _read_other(source: OtherSource, ledger: Ledger, now: datetime, report: CycleReport) -> None:
    run = source.run(ledger, now)
    report.fetched[source.name] = run.read
    report.events_added += run.added
    report.rejected.update(run.rejected)
    _add_failures(report, run.failures)


def _add_failures(report: CycleReport, failures: Iterable[SourceFailure], traced: bool = False) -> None:
    for failure in failures:
        report.failures.append(failure)
        log.warning("source_failure", source=failure.source, reason=failure.reason.value,
                    part=failure.part, detail=failure.detail, exc_info=traced)  # fmt: skip


@dataclass
class _Work:
    """What the score stage hands to the write stage."""

    plans: list[ContactPlan] = field(default_factory=list)
    web: WebPlan = field(default_factory=WebPlan)
    held_back: str = ""  # the rule change the rail held back, named


def _score(
    client: OrgPort, ledger: Ledger, settings: Settings, now: datetime, report: CycleReport, work: _Work,
    force: bool, dry_run: bool,
) -> None:  # fmt: skip
    """Score and plan; a dry run leaves the ledger as it found it (states, rules in force, the score
    history, dirty marks): a preview with --force shows what --force would write and applies nothing."""
    if not dry_run:
        _score_and_plan(client, ledger, settings, now, report, work, force)
        return
    with ledger.undone():
        _score_and_plan(client, ledger, settings, now, report, work, force)


def _score_and_plan(
    client: OrgPort, ledger: Ledger, settings: Settings, now: datetime, report: CycleReport, work: _Work,
    force: bool,
) -> None:  # fmt: skip
    first = ledger.meta("first_write_done") is None
    scored = score_under_rail(
        ledger, settings, now, everyone=report.kind == "daily", force=force, first=first
    )
    report.scored, work.held_back = scored.scored, scored.held_back
    report.held_back = scored.held_back
    work.plans = plan_writes(ledger)
    if refresh_shown(client, ledger, settings, [p.contact_id for p in work.plans if p.values], now):
        rescore(ledger, settings, now)  # only those the org changed meanwhile: merged, then planned again
        work.plans = plan_writes(ledger)
    report.planned, report.plan = len(work.plans), work.plans
    work.web = gather_web(ledger, mapping_of(settings))


def _write(
    client: OrgPort,
    ledger: Ledger,
    settings: Settings,
    now: datetime,
    report: CycleReport,
    work: _Work,
    *,
    dry_run: bool,
) -> None:
    plans, web = work.plans, work.web
    writes = contact_writes(plans, mapping_of(settings)) + web.writes
    report.writes, report.web_writes = len(writes), len(web.writes)
    if dry_run:
        report.status = CycleStatus.DRY_RUN
    elif writes:
        plans, result = write_children_first(client, ledger, settings, plans, web.writes)
        # One unit of work: what the org accepted, what it refused, the bulk jobs still running (their
        # writes in flight), and that writing has begun.
        with ledger.transaction():
            letters = record_outcome(ledger, plans, web, result, mapping_of(settings), now)
            save_jobs(ledger, pending_of(result, plans, web, mapping_of(settings), now))
            ledger.set_meta("first_write_done", now.isoformat())
        report.in_flight = len(result.of(Outcome.IN_FLIGHT))
        report.succeeded, report.dead = len(result.succeeded), report.dead + len(letters)
        report.retriable, report.write_calls = len(result.retriable), result.calls
        report.not_sent = len(result.not_sent)
        if result.stopped:
            report.status, report.reason = CycleStatus.STOPPED, result.stopped
    if work.held_back and report.status is CycleStatus.OK:  # what was written is in; the rest is named
        report.status, report.reason = CycleStatus.STOPPED, work.held_back


def _collect(client: OrgPort, ledger: Ledger, settings: Settings, now: datetime, report: CycleReport, *,
             dry_run: bool) -> None:  # fmt: skip
    """Collect the bulk jobs earlier cycles left running (before planning, so what they wrote counts)."""
    if not dry_run:
        collected = collect_jobs(client, ledger, mapping_of(settings))
        report.collected, report.dead = collected.writes, collected.dead


def _delete_in_org(client: OrgPort, ledger: Ledger, settings: Settings, now: datetime, report: CycleReport, *,
                   dry_run: bool) -> None:  # fmt: skip
    web = delete_withdrawn_web(client, ledger, mapping_of(settings), dry_run=dry_run)
    erased = erase_in_org(client, ledger, mapping_of(settings), now, dry_run=dry_run)
    report.org_deleted = web.deleted + erased.deleted
    if (stopped := web.stopped or erased.stopped) and report.status is CycleStatus.OK:
        report.status, report.reason = CycleStatus.STOPPED, stopped


Step = tuple[Stage, str, Callable[[], None]]  # the stage, its source's name ('' for org stages), the work


def _start(client: OrgPort, ledger: Ledger) -> Step:
    def start() -> None:
        client.start_cycle()
        ensure_org(client, ledger)

    return Stage.START, "", start


def _run_stages(
    client: OrgPort, ledger: Ledger, report: CycleReport, now: datetime, steps: list[Step]
) -> None:
    """Run the steps in order under the one error policy (`stages.decide`), logging the cycle."""
    cycle_id = start_cycle(ledger, report.kind, now)
    bound = structlog.contextvars.bind_contextvars(cycle_id=cycle_id)  # on every line until the end
    log.info("cycle_start", kind=report.kind)
    try:
        for stage, source, step in steps:
            try:
                step()
            except Exception as exc:
                verdict = decide(stage, exc)
                if verdict is Verdict.SKIP_STAGE:
                    failure = SourceFailure(source, failure_reason(exc), f"{type(exc).__name__}: {exc}")
                    _add_failures(report, [failure], traced=failure.reason is FailureReason.STAGE_ERROR)
                    continue
                report.status = stopped_status(exc) if verdict is Verdict.STOP_CYCLE else CycleStatus.FAILED
                stopped = report.status is CycleStatus.STOPPED
                report.reason = str(exc) if stopped else f"{type(exc).__name__}: {exc}"
                if verdict is Verdict.STOP_DAEMON:
                    raise
                if (
                    report.status is CycleStatus.FAILED
                ):  # not one of ours: keep the trace for whoever fixes it
                    log.exception("cycle_failed", stage=stage.value, error=report.reason)
                return
    finally:
        client.end_cycle()
        finish_cycle(ledger, cycle_id, report.status, now, report.summary())
        log.info("cycle_done", **report.summary())
        structlog.contextvars.reset_contextvars(**bound)


def run_cycle(
    client: OrgPort,
    ledger: Ledger,
    settings: Settings,
    now: datetime,
    *,
    kind: str = "poll",
    dry_run: bool = False,
    force: bool = False,
    other_sources: Sequence[OtherSource] = (),
) -> CycleReport:
    """One cycle (`poll`, or `daily` which re-scores everyone). `now` is read once by the caller.

    `other_sources` (the pixel) run after the org was read, so contacts and their tracking consent
    are known before hits are credited, and their events are scored and written in this same cycle.
    Every stage runs under `stages.decide`: a failing other source is skipped and recorded in the
    report's failures; a failure that ends the cycle is its status; one that must stop the daemon
    (bad config, a refusing org) is raised once the cycle is recorded.
    """
    report, work = CycleReport(kind), _Work()
    steps: list[Step] = [
        _start(client, ledger),
        (Stage.READ_ORG, "", lambda: _gather(client, ledger, settings, now, report)),
        *((Stage.READ_OTHER, s.name, partial(_read_other, s, ledger, now, report)) for s in other_sources),
        (Stage.SCORE, "", lambda: _collect(client, ledger, settings, now, report, dry_run=dry_run)),
        (Stage.SCORE, "", lambda: _score(client, ledger, settings, now, report, work, force, dry_run)),
        (Stage.WRITE, "", lambda: _write(client, ledger, settings, now, report, work, dry_run=dry_run)),
        (Stage.WRITE, "", lambda: _delete_in_org(client, ledger, settings, now, report, dry_run=dry_run)),
    ]  # fmt: skip
    _run_stages(client, ledger, report, now, steps)
    return report


def backfill_plan(
    client: OrgPort, settings: Settings, since: datetime, now: datetime
) -> dict[str, list[Window]]:
    """Windows from `since` to now - lag per source: sliced to ≤ 1 day where a COUNT() shows > 10k rows,
    one Bulk 2.0 query job where it shows more than `bulk_query_threshold`."""
    end = now - timedelta(seconds=client.settings.lag_seconds)
    bulk_above = client.settings.bulk_query_threshold
    return {
        s.name: backfill_windows(client, Source(s.object, (), s.where), since, end, bulk_above=bulk_above)
        for s in org_sources(client, settings)
    }


def run_backfill(
    client: OrgPort,
    ledger: Ledger,
    settings: Settings,
    now: datetime,
    windows: dict[str, list[Window]],
    *,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> CycleReport:
    """Read the given windows of every source, then score and write as a cycle does."""
    report, work = CycleReport("backfill"), _Work()
    steps: list[Step] = [
        _start(client, ledger),
        (Stage.READ_ORG, "", lambda: _gather(client, ledger, settings, now, report, windows, progress)),
        (Stage.SCORE, "", lambda: _collect(client, ledger, settings, now, report, dry_run=False)),
        (Stage.SCORE, "", lambda: _score(client, ledger, settings, now, report, work, force, False)),
        (Stage.WRITE, "", lambda: _write(client, ledger, settings, now, report, work, dry_run=False)),
    ]  # fmt: skip
    _run_stages(client, ledger, report, now, steps)
    return report


__all__ = [
    "CycleReport",
    "OtherSource",
    "SourceRun",
    "backfill_plan",
    "ensure_org",
    "gather_source",
    "run_backfill",
    "run_cycle",
]
