"""Apply a write plan: sObject Collections (200 a call, allOrNone=false) or Bulk API 2.0 above a threshold.

Every value is absolute, so re-sending is harmless (update by Id, upsert by external id). Results come
back per record as data: succeeded, retriable (still locked, or not sent because the cycle stopped) and
failed (permanent, for the caller's dead-letter table). Deciding *what* to write is not done here.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import structlog

from connector.details import RecordWrite
from connector.errors import ApiLimitError, BudgetExceededError, SalesforceRequestError, TransientError

log = structlog.get_logger(__name__)

COLLECTION_SIZE = 200  # the sObject Collections maximum
LOCKED = "UNABLE_TO_LOCK_ROW"
NOT_SENT = "NOT_SENT"
BULK_NULL = "#N/A"  # Bulk 2.0 CSV: an empty cell leaves the field unchanged, #N/A sets it to null
BULK_DONE = frozenset({"JobComplete", "Failed", "Aborted"})


class WritePort(Protocol):
    """What the writer needs from the client (SalesforceClient implements it)."""

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET JSON."""
        ...

    def send(self, method: str, path: str, body: Any = None, *, idempotent: bool) -> Any:
        """Send JSON, return JSON."""
        ...

    def send_raw(
        self, method: str, path: str, *, data: str | None = None, content_type: str = "text/csv"
    ) -> str:
        """Send or fetch CSV."""
        ...


@dataclass(frozen=True)
class WriteFailure:
    """A record the org did not take, with Salesforce's error code and message."""

    write: RecordWrite
    error_code: str
    message: str


@dataclass(frozen=True)
class WriteResult:
    """Per-record outcome of a plan, plus the write calls it cost and why it stopped early (if it did)."""

    succeeded: tuple[RecordWrite, ...] = ()
    retriable: tuple[WriteFailure, ...] = ()
    failed: tuple[WriteFailure, ...] = ()
    calls: int = 0
    stopped: str = ""


@dataclass
class _Tally:
    succeeded: list[RecordWrite] = field(default_factory=list)
    locked: list[WriteFailure] = field(default_factory=list)
    failed: list[WriteFailure] = field(default_factory=list)
    calls: int = 0

    def record(self, write: RecordWrite, ok: bool, code: str, message: str) -> None:
        if ok:
            self.succeeded.append(write)
        elif code == LOCKED:
            self.locked.append(WriteFailure(write, code, message))
        else:
            self.failed.append(WriteFailure(write, code, message))


def apply_plan(
    client: WritePort,
    plan: Sequence[RecordWrite],
    *,
    bulk_threshold: int = 2000,
    lock_retries: int = 3,
    pause: Callable[[float], None] = time.sleep,
) -> WriteResult:
    """Write `plan`; retry only the locked records (grouped by parent, one call at a time)."""
    tally = _Tally()
    pending: list[RecordWrite] = []
    stopped = ""
    try:
        for (obj, key_field), group in _groups(plan).items():
            # Children of one parent in one chunk: fewer calls contend for the same parent's lock.
            writes = group if key_field == "Id" else sorted(group, key=lambda w: w.parent)
            pending = list(writes)
            if len(writes) > bulk_threshold:
                _bulk(client, obj, key_field, writes, tally, pause)
            else:
                for chunk in _chunks(writes):
                    _collection(client, obj, key_field, chunk, tally)
                    pending = pending[len(chunk) :]
            pending = []
        for attempt in range(1, lock_retries + 1):
            if not tally.locked:
                break
            pause(float(2 ** (attempt - 1)))  # let the competing transaction finish
            locked, tally.locked = tally.locked, []
            log.info("sf_write_lock_retry", attempt=attempt, records=len(locked))
            retry = sorted((f.write for f in locked), key=lambda w: (w.object, w.key_field, w.parent))
            for (obj, key_field), writes in _groups(retry).items():
                pending = list(writes)
                for chunk in _chunks(writes):
                    _collection(client, obj, key_field, chunk, tally)
                    pending = pending[len(chunk) :]
            pending = []
    except (ApiLimitError, BudgetExceededError, TransientError) as exc:
        # Stop writing, but report what already happened so the caller records it exactly.
        stopped = str(exc)
        log.warning("sf_write_stopped", reason=stopped, unsent=len(pending))
    unsent = [WriteFailure(w, NOT_SENT, stopped) for w in pending]
    result = WriteResult(
        tuple(tally.succeeded), tuple(tally.locked + unsent), tuple(tally.failed), tally.calls, stopped
    )
    log.info(
        "sf_write_done",
        succeeded=len(result.succeeded),
        retriable=len(result.retriable),
        failed=len(result.failed),
        calls=result.calls,
    )
    return result


def _groups(writes: Sequence[RecordWrite]) -> dict[tuple[str, str], list[RecordWrite]]:
    groups: dict[tuple[str, str], list[RecordWrite]] = {}
    for write in writes:
        groups.setdefault((write.object, write.key_field), []).append(write)
    return groups


def _chunks(writes: Sequence[RecordWrite]) -> Iterator[Sequence[RecordWrite]]:
    for start in range(0, len(writes), COLLECTION_SIZE):
        yield writes[start : start + COLLECTION_SIZE]


def _collection(
    client: WritePort, obj: str, key_field: str, chunk: Sequence[RecordWrite], tally: _Tally
) -> None:
    """One sObject Collections call: update by Id, or upsert by external id."""
    records = [
        {
            "attributes": {"type": obj},
            **{k: _json_value(v) for k, v in w.values.items()},
            key_field: w.key_value,
        }
        for w in chunk
    ]
    path = "composite/sobjects" if key_field == "Id" else f"composite/sobjects/{obj}/{key_field}"
    tally.calls += 1
    answer = client.send("PATCH", path, {"allOrNone": False, "records": records}, idempotent=True)
    results = answer if isinstance(answer, list) else []
    for index, write in enumerate(chunk):
        item = results[index] if index < len(results) else {}
        if item.get("success"):
            tally.record(write, True, "", "")
        else:
            code, message = _first_error(item.get("errors"))
            tally.record(write, False, code or "NO_RESULT", message or "the org returned no result for it")


def _first_error(errors: Any) -> tuple[str, str]:
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        first = errors[0]
        return str(first.get("statusCode") or first.get("errorCode") or ""), str(first.get("message", ""))
    return "", ""


# -- Bulk API 2.0 --------------------------------------------------------------------------------


def _bulk(
    client: WritePort,
    obj: str,
    key_field: str,
    writes: Sequence[RecordWrite],
    tally: _Tally,
    pause: Callable[[float], None],
) -> None:
    """One Bulk 2.0 ingest job: create, upload CSV, close, poll, read per-record results."""
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
    tally.calls += 1
    job = client.send("POST", "jobs/ingest", spec, idempotent=False)  # a retry would create a second job
    job_id = str(job["id"])
    log.info("sf_bulk_job", job_id=job_id, object=obj, records=len(writes))
    tally.calls += 1
    client.send_raw("PUT", f"jobs/ingest/{job_id}/batches", data=bulk_csv(key_field, writes))
    tally.calls += 1
    client.send("PATCH", f"jobs/ingest/{job_id}", {"state": "UploadComplete"}, idempotent=True)
    wait = 1.0
    while True:
        tally.calls += 1
        state = client.get(f"jobs/ingest/{job_id}")
        if state.get("state") in BULK_DONE:
            break
        pause(wait)
        wait = min(wait * 2, 30.0)
    if state["state"] != "JobComplete":
        raise SalesforceRequestError(
            f"Bulk job {job_id} on {obj} ended {state['state']}: {state.get('errorMessage', '')}",
            "BULK_JOB_FAILED",
        )
    by_key = {w.key_value: w for w in writes}
    done: set[str] = set()
    tally.calls += 2
    for row in csv.DictReader(
        io.StringIO(client.send_raw("GET", f"jobs/ingest/{job_id}/successfulResults/"))
    ):
        key = row.get(key_field) or row.get("sf__Id", "")
        if key in by_key and key not in done:
            done.add(key)
            tally.record(by_key[key], True, "", "")
    for row in csv.DictReader(io.StringIO(client.send_raw("GET", f"jobs/ingest/{job_id}/failedResults/"))):
        key = row.get(key_field) or row.get("sf__Id", "")
        if key in by_key and key not in done:
            done.add(key)
            code, _, message = row.get("sf__Error", "").partition(":")
            tally.record(by_key[key], False, code, message)
    for key, write in by_key.items():
        if key not in done:  # unprocessed (job stopped): safe to send again
            tally.record(write, False, LOCKED, "not processed by the bulk job")


def bulk_csv(key_field: str, writes: Sequence[RecordWrite]) -> str:
    """The CSV for a Bulk 2.0 job: key column first, `#N/A` for nulls, empty for fields a row leaves alone."""
    columns = [key_field, *dict.fromkeys(k for w in writes for k in w.values if k != key_field)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for write in writes:
        row = [write.key_value]
        for column in columns[1:]:
            if column not in write.values:
                row.append("")
            else:
                value = write.values[column]
                row.append(BULK_NULL if value is None else _csv_value(value))
        writer.writerow(row)
    return out.getvalue()


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _csv_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(_json_value(value))
