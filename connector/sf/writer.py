"""Apply a write plan: sObject Collections (200 a call, allOrNone=false) or Bulk API 2.0 above a threshold.

Every value is absolute, so re-sending is harmless (update by Id, upsert by external id). The result
accounts for every planned write exactly once (`Outcome`): the writer only collects the org's answers,
and `account` walks the plan, so a write the cycle never reached is `NOT_SENT` without anyone having
to remember it. Deciding *what* to write is not done here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import structlog

from connector.details import RecordWrite
from connector.errors import ApiLimitError, BudgetExceededError, TransientError
from connector.sf import bulk
from connector.sf.bulk import bulk_csv

log = structlog.get_logger(__name__)

COLLECTION_SIZE = 200  # the sObject Collections maximum
LOCKED = "UNABLE_TO_LOCK_ROW"
UNPROCESSED = "NOT_PROCESSED"  # a row a Bulk 2.0 job neither took nor refused
# Answers that end a cycle's writing but not the connector: what is left is sent next cycle.
STOPS = (ApiLimitError, BudgetExceededError, TransientError)


# What the writer needs from the client is what the Bulk 2.0 calls need (SalesforceClient implements it).
WritePort = bulk.BulkPort


class Outcome(StrEnum):
    """How one planned write ended; every write of a plan ends in exactly one."""

    ACCEPTED = "accepted"  # the org took it
    REFUSED = "refused"  # for good (validation, bad reference, ...): the caller dead-letters it
    RETRIABLE = "retriable"  # answered, not taken for a passing reason: still locked, left by a bulk job
    IN_FLIGHT = "in_flight"  # in a bulk job still running: collected by a later cycle, never sent again
    NOT_SENT = "not_sent"  # the cycle stopped before the org answered for it


@dataclass(frozen=True)
class WriteOutcome:
    """One planned write and how it ended, with Salesforce's error code and message when not accepted."""

    write: RecordWrite
    outcome: Outcome
    error_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class WriteResult:
    """Every planned write's outcome in plan order, the write calls it cost and why it stopped (if so)."""

    outcomes: tuple[WriteOutcome, ...] = ()
    calls: int = 0
    stopped: str = ""
    jobs: tuple[BulkJob, ...] = ()  # bulk jobs left running (their writes are IN_FLIGHT)

    def of(self, *outcomes: Outcome) -> tuple[WriteOutcome, ...]:
        """The writes that ended in one of `outcomes`."""
        return tuple(o for o in self.outcomes if o.outcome in outcomes)

    def counts(self) -> dict[str, int]:
        """Writes per outcome, every outcome present (for logs and the cycle summary)."""
        return {kind.value: len(self.of(kind)) for kind in Outcome}

    @property
    def succeeded(self) -> tuple[RecordWrite, ...]:
        """The accepted writes."""
        return tuple(o.write for o in self.of(Outcome.ACCEPTED))

    @property
    def failed(self) -> tuple[WriteOutcome, ...]:
        """The refused writes (for the dead-letter table)."""
        return self.of(Outcome.REFUSED)

    @property
    def retriable(self) -> tuple[WriteOutcome, ...]:
        """Answered but not taken, for a reason that passes."""
        return self.of(Outcome.RETRIABLE)

    @property
    def not_sent(self) -> tuple[WriteOutcome, ...]:
        """Never answered: the cycle stopped first."""
        return self.of(Outcome.NOT_SENT)


def account(
    plan: Sequence[RecordWrite],
    answers: Mapping[int, WriteOutcome],
    calls: int = 0,
    stopped: str = "",
    jobs: Sequence[BulkJob] = (),
) -> WriteResult:
    """Each write of `plan` with its last answer (keyed by plan position); one never answered was not sent."""
    return WriteResult(
        tuple(answers.get(i) or WriteOutcome(w, Outcome.NOT_SENT, "", stopped) for i, w in enumerate(plan)),
        calls,
        stopped,
        tuple(jobs),
    )


def _answer(write: RecordWrite, ok: bool, code: str, message: str) -> WriteOutcome:
    if ok:
        return WriteOutcome(write, Outcome.ACCEPTED)
    kind = Outcome.RETRIABLE if code in (LOCKED, UNPROCESSED) else Outcome.REFUSED
    return WriteOutcome(write, kind, code, message)


@dataclass
class _Run:
    """The org's answers so far, by plan position, and the calls spent; `account` turns it into a result."""

    plan: Sequence[RecordWrite]
    answers: dict[int, WriteOutcome] = field(default_factory=dict)
    calls: int = 0
    jobs: list[BulkJob] = field(default_factory=list)

    def tally(self) -> None:
        """Count one call about to be made."""
        self.calls += 1

    def answer(self, index: int, ok: bool, code: str = "", message: str = "") -> None:
        self.answers[index] = _answer(self.plan[index], ok, code, message)


def apply_plan(
    client: WritePort,
    plan: Sequence[RecordWrite],
    *,
    bulk_threshold: int = 2000,
    lock_retries: int = 3,
    pause: Callable[[float], None] = time.sleep,
    collection_size: int = COLLECTION_SIZE,
    bulk_deadline: float = 120.0,
) -> WriteResult:
    """Write `plan`; retry only the retriable records (grouped by parent, one call at a time).

    A bulk job is polled for at most `bulk_deadline` seconds of `pause`; one still running then is
    returned in `WriteResult.jobs` with its writes IN_FLIGHT.
    """
    run = _Run(plan)
    stopped = ""
    try:
        for (obj, key_field), group in _groups(plan, range(len(plan))).items():
            # Children of one parent in one chunk: fewer calls contend for the same parent's lock.
            indices = group if key_field == "Id" else sorted(group, key=lambda i: plan[i].parent)
            if len(indices) > bulk_threshold:
                _bulk(client, obj, key_field, indices, run, pause, bulk_deadline)
            else:
                for chunk in _chunks(indices, collection_size):
                    _collection(client, obj, key_field, chunk, run)
        for attempt in range(1, lock_retries + 1):
            again = [i for i, a in run.answers.items() if a.outcome is Outcome.RETRIABLE]
            if not again:
                break
            pause(float(2 ** (attempt - 1)))  # let the competing transaction finish
            log.info("sf_write_lock_retry", attempt=attempt, records=len(again))
            again.sort(key=lambda i: (plan[i].object, plan[i].key_field, plan[i].parent))
            for (obj, key_field), indices in _groups(plan, again).items():
                for chunk in _chunks(indices, collection_size):
                    _collection(client, obj, key_field, chunk, run)
    except STOPS as exc:
        # Stop writing; what the org answered so far is in `run`, the rest is accounted as not sent.
        stopped = str(exc)
    result = account(plan, run.answers, run.calls, stopped, run.jobs)
    counts = result.counts()
    if stopped:
        log.warning("sf_write_stopped", reason=stopped, not_sent=counts[Outcome.NOT_SENT])
    log.info("sf_write_done", calls=result.calls, **counts)
    return result


def _groups(plan: Sequence[RecordWrite], indices: Iterable[int]) -> dict[tuple[str, str], list[int]]:
    groups: dict[tuple[str, str], list[int]] = {}
    for index in indices:
        write = plan[index]
        groups.setdefault((write.object, write.key_field), []).append(index)
    return groups


def _chunks(indices: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(indices), size):
        yield indices[start : start + size]


def _collection(client: WritePort, obj: str, key_field: str, chunk: Sequence[int], run: _Run) -> None:
    """One sObject Collections call: update by Id, or upsert by external id."""
    records = [
        {
            "attributes": {"type": obj},
            **{k: _json_value(v) for k, v in run.plan[i].values.items()},
            key_field: run.plan[i].key_value,
        }
        for i in chunk
    ]
    path = "composite/sobjects" if key_field == "Id" else f"composite/sobjects/{obj}/{key_field}"
    run.calls += 1
    answer = client.send("PATCH", path, {"allOrNone": False, "records": records}, idempotent=True)
    results = answer if isinstance(answer, list) else []
    for position, index in enumerate(chunk):
        item = results[position] if position < len(results) else {}
        if item.get("success"):
            run.answer(index, True)
        else:
            code, message = _first_error(item.get("errors"))
            run.answer(index, False, code or "NO_RESULT", message or "the org returned no result for it")


def _first_error(errors: Any) -> tuple[str, str]:
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        first = errors[0]
        return str(first.get("statusCode") or first.get("errorCode") or ""), str(first.get("message", ""))
    return "", ""


# -- Bulk API 2.0 --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkJob:
    """A Bulk 2.0 ingest job still running when the writer's deadline passed: its writes are in it."""

    job_id: str
    object: str
    key_field: str
    writes: tuple[RecordWrite, ...]


def _bulk(
    client: WritePort,
    obj: str,
    key_field: str,
    indices: Sequence[int],
    run: _Run,
    pause: Callable[[float], None],
    deadline: float,
) -> None:
    """One Bulk 2.0 ingest job: create, upload CSV, close, poll up to `deadline`, read per-record results.

    A job still running at the deadline is left to run: its writes are IN_FLIGHT and the job is in
    `run.jobs`, for the caller to record and collect later (`collect_job`), never to send again.
    """
    writes = [run.plan[i] for i in indices]
    spec: dict[str, Any] = {
        "object": obj,
        "contentType": "CSV",
        "lineEnding": "LF",
        "columnDelimiter": "COMMA",
    }
    if key_field == "Id":
        spec["operation"] = "update"
    else:
        spec.update(operation="upsert", externalIdFieldName=key_field)
    run.calls += 1
    job = client.send("POST", "jobs/ingest", spec, idempotent=False)  # a retry would create a second job
    job_id = str(job["id"])
    log.info("sf_bulk_job", job_id=job_id, object=obj, records=len(writes))
    run.calls += 1
    client.send_raw("PUT", f"jobs/ingest/{job_id}/batches", data=bulk_csv(key_field, writes))
    run.calls += 1
    client.send("PATCH", f"jobs/ingest/{job_id}", {"state": "UploadComplete"}, idempotent=True)
    state = bulk.wait_for(client, f"jobs/ingest/{job_id}", deadline=deadline, pause=pause, tally=run.tally)
    if state is None:
        run.jobs.append(BulkJob(job_id, obj, key_field, tuple(writes)))
        for index in indices:
            run.answers[index] = WriteOutcome(run.plan[index], Outcome.IN_FLIGHT, "", f"in bulk job {job_id}")
        return
    record_job(client, job_id, key_field, state, indices, run)


def record_job(
    client: WritePort,
    job_id: str,
    key_field: str,
    state: Mapping[str, Any],
    indices: Sequence[int],
    run: _Run,
) -> None:
    """Answer each write of a finished job (at plan positions `indices`) as its results are read.

    A row the job neither took nor refused (it stopped part-way, failed or was aborted) is retriable:
    safe to send again.
    """
    if state.get("state") != "JobComplete":
        log.warning(
            "sf_bulk_job_ended", job_id=job_id, state=state.get("state"), error=state.get("errorMessage")
        )
    by_key = {run.plan[i].key_value: i for i in indices}
    done: set[str] = set()
    for key, ok, code, message in bulk.ingest_results(client, job_id, key_field, run.tally):
        if key in by_key and key not in done:
            done.add(key)
            run.answer(by_key[key], ok, code, message)
    for key, index in by_key.items():
        if key not in done:
            run.answer(index, False, UNPROCESSED, "not processed by the bulk job")


def collect_job(client: WritePort, job: BulkJob) -> WriteResult | None:
    """A recorded job's outcomes once it is done (one status call, two for results); None while it runs."""
    run = _Run(job.writes)
    run.tally()
    state = client.get(f"jobs/ingest/{job.job_id}")
    if state.get("state") not in bulk.DONE:
        return None
    record_job(client, job.job_id, job.key_field, state, range(len(job.writes)), run)
    return account(job.writes, run.answers, run.calls)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# -- deletes -------------------------------------------------------------------------------------

GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})  # already deleted or purged


def delete_records(
    client: WritePort, deletes: Sequence[RecordWrite], *, collection_size: int = COLLECTION_SIZE
) -> WriteResult:
    """Delete records by Id (`key_value`), ≤ 200 a call; one that is already gone counts as accepted."""
    run = _Run(deletes)
    stopped = ""
    try:
        for chunk in _chunks(range(len(deletes)), collection_size):
            ids = ",".join(deletes[i].key_value for i in chunk)
            run.calls += 1
            answer = client.send("DELETE", f"composite/sobjects?ids={ids}&allOrNone=false", idempotent=True)
            results = answer if isinstance(answer, list) else []
            for position, index in enumerate(chunk):
                item = results[position] if position < len(results) else {}
                code, message = _first_error(item.get("errors"))
                if item.get("success") or code in GONE:
                    run.answer(index, True)
                else:
                    run.answer(
                        index, False, code or "NO_RESULT", message or "the org returned no result for it"
                    )
    except STOPS as exc:
        stopped = str(exc)
    result = account(deletes, run.answers, run.calls, stopped)
    log.info("sf_delete_done", calls=result.calls, **result.counts())
    return result
