"""Bulk 2.0 jobs left running: what to record of them, and their collection by a later cycle.

The writer polls a job up to `[salesforce] bulk_deadline_seconds`; a job still running then ends the
wait, not the cycle. Its writes are IN_FLIGHT: recorded here with what each confirms once accepted
(the plan's details, a score line, a web record's digest), excluded from every later write
(`apply.write_children_first`) and collected before a later cycle plans: one status call while it
runs, its results once done, confirmed once and then forgotten in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from connector.config.salesforce import ObjectMapping
from connector.details import LineFacts, RecruitmentDetails
from connector.ledger import Ledger
from connector.ledger.bulk_jobs import PendingJob, PendingWrite, drop_job, pending_jobs
from connector.ledger.score_lines import line_of, line_value
from connector.ledger.store import details_columns, details_of
from connector.sf.port import OrgPort
from connector.sf.writer import BulkJob, WriteResult, collect_job
from connector.shell.apply import record_outcome
from connector.sync.plan import ContactPlan
from connector.sync.web import WebPlan

log = structlog.get_logger(__name__)


def pending_of(
    result: WriteResult, plans: Sequence[ContactPlan], web: WebPlan, mapping: ObjectMapping, now: datetime
) -> list[PendingJob]:
    """The jobs `result` left running, each write with what it confirms once accepted."""
    by_contact = {p.contact_id: p for p in plans}
    return [
        PendingJob(job.job_id, job.object, job.key_field, now,
                   tuple(PendingWrite(w, _confirm(w.object, w.key_value, w.parent, by_contact, web, mapping))
                         for w in job.writes))
        for job in result.jobs
    ]  # fmt: skip


def _confirm(
    obj: str, key: str, contact: str, plans: dict[str, ContactPlan], web: WebPlan, mapping: ObjectMapping
) -> dict[str, Any]:
    plan = plans.get(contact)
    if obj == mapping.contact.object and plan is not None:
        return {"names": list(plan.values), "details": details_columns(RecruitmentDetails(**plan.values))}
    if obj == mapping.score_line.object and plan is not None:
        rule = key.split(":", 1)[1]
        return {"rule": rule, "line": line_value(plan.lines[rule])}
    if key in web.hashes:
        return {"digest": web.hashes[key][1]}
    return {}


@dataclass(frozen=True)
class Collected:
    """What collecting did: writes confirmed (accepted or refused), jobs still running."""

    writes: int = 0
    dead: int = 0
    running: int = 0


def collect_jobs(client: OrgPort, ledger: Ledger, mapping: ObjectMapping) -> Collected:
    """Read each recorded job's state; confirm and forget those that are done."""
    writes = dead = running = 0
    for job in pending_jobs(ledger):
        result = collect_job(client, BulkJob(job.job_id, job.object, job.key_field,
                                             tuple(p.write for p in job.writes)))  # fmt: skip
        if result is None:
            running += 1
            continue
        plans, web = _material(job, mapping)
        with ledger.transaction():  # confirmed once: the results and the job's end land together
            # Stamped with the sending cycle's `now`: the job applied its rows after that.
            letters = record_outcome(ledger, plans, web, result, mapping, job.started_at, job.started_at)
            drop_job(ledger, job.job_id)
        writes += len(result.outcomes)
        dead += len(letters)
        log.info("sf_bulk_job_collected", job_id=job.job_id, **result.counts())
    return Collected(writes, dead, running)


def _material(job: PendingJob, mapping: ObjectMapping) -> tuple[list[ContactPlan], WebPlan]:
    """The plans and web plan a job's writes came from, as far as confirming them needs."""
    values: dict[str, dict[str, Any]] = {}
    lines: dict[str, dict[str, LineFacts]] = {}
    web = WebPlan()
    for pending in job.writes:
        write, conf = pending.write, pending.confirm
        if "names" in conf:
            details = details_of(*conf["details"])
            values[write.parent] = {name: getattr(details, name) for name in conf["names"]}
        elif "rule" in conf:
            # A job recorded by a version before the line facts confirms its points only.
            line = line_of(conf["line"] if "line" in conf else int(conf["points"]))
            lines.setdefault(write.parent, {})[conf["rule"]] = line
        elif "digest" in conf:
            web.writes.append(write)
            web.hashes[write.key_value] = (write.parent, str(conf["digest"]))
    contacts = sorted(set(values) | set(lines))
    return [ContactPlan(c, values.get(c, {}), lines.get(c, {})) for c in contacts], web
