"""Bulk API 2.0 jobs: polling, ingest CSV and results, and query jobs (create, poll, results by locator).

A job is polled with backoff (1, 2, 4 … 30 s) until it is done or the waits add up to the deadline
(`[salesforce] bulk_deadline_seconds`); the waits are counted, not read from a clock, so a test's
pause function decides how much org time passes. A job still running then is the caller's to keep:
the writer records it for a later cycle. A query job is aborted (it would go on using the org's
query capacity for nothing) and raises `QueryTimeoutError`, so the reader halves the window and reads
each half, as after a REST QUERY_TIMEOUT: a window too big for one job within the deadline makes
progress instead of starting the same job again every cycle. Every call goes through the client,
so retries, budget and breaker apply as for REST.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

import structlog

from connector.details import RecordWrite
from connector.errors import QueryTimeoutError, RetriableError, SalesforceRequestError

log = structlog.get_logger(__name__)

DONE = frozenset({"JobComplete", "Failed", "Aborted"})
MAX_WAIT = 30.0
BULK_NULL = "#N/A"  # Bulk 2.0 CSV: an empty cell leaves the field unchanged, #N/A sets it to null
Record = dict[str, Any]
_DATETIME_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


class BulkPort(Protocol):
    """What the Bulk 2.0 calls need from the client (SalesforceClient implements it)."""

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET JSON."""
        ...

    def send(self, method: str, path: str, body: Any = None, *, idempotent: bool) -> Any:
        """Send JSON, return JSON."""
        ...

    def send_raw(
        self,
        method: str,
        path: str,
        *,
        data: str | None = None,
        content_type: str = "text/csv",
        headers_out: dict[str, str] | None = None,
    ) -> str:
        """Send or fetch CSV; the response headers go to `headers_out` when given."""
        ...


def _no_tally() -> None:
    return None


def wait_for(
    client: BulkPort,
    path: str,
    *,
    deadline: float,
    pause: Callable[[float], None],
    tally: Callable[[], None] = _no_tally,
) -> Mapping[str, Any] | None:
    """Poll `path` (a job's status) with backoff until it is done or the waits reach `deadline` s;
    its last status, or None while it still runs. `tally` is called before each call."""
    waited, wait = 0.0, 1.0
    while True:
        tally()
        state: Mapping[str, Any] = client.get(path)
        if state.get("state") in DONE:
            return state
        remaining = deadline - waited
        if remaining <= 0:
            log.info("sf_bulk_still_running", path=path, waited_seconds=waited, state=state.get("state"))
            return None
        step = min(wait, remaining)
        pause(step)
        waited += step
        wait = min(wait * 2, MAX_WAIT)


def ingest_results(
    client: BulkPort, job_id: str, key_field: str, tally: Callable[[], None] = _no_tally
) -> Iterator[tuple[str, bool, str, str]]:
    """(key, accepted, error code, message) per row of a finished job's successful, then failed
    results, as each file is read (a stop before the second leaves the first's answers given).

    Salesforce returns results in an order of its own: rows are matched by key, never by position.
    """
    for kind, ok in (("successfulResults", True), ("failedResults", False)):
        tally()
        text = client.send_raw("GET", f"jobs/ingest/{job_id}/{kind}/")
        for row in csv.DictReader(io.StringIO(text)):
            key = row.get(key_field) or row.get("sf__Id", "")
            code, _, message = ("", "", "") if ok else row.get("sf__Error", "").partition(":")
            yield key, ok, code, message


def query(
    client: BulkPort,
    soql: str,
    *,
    include_deleted: bool,
    deadline: float,
    pause: Callable[[float], None],
    page_records: int,
) -> Iterator[list[Record]]:
    """Every page of a Bulk 2.0 query job as REST-like records (see `csv_record`)."""
    operation = "queryAll" if include_deleted else "query"
    spec = {"operation": operation, "query": soql, "contentType": "CSV", "columnDelimiter": "COMMA",
            "lineEnding": "LF"}  # fmt: skip
    job = client.send("POST", "jobs/query", spec, idempotent=False)
    job_id = str(job["id"])
    log.info("sf_bulk_query_job", job_id=job_id)
    state = wait_for(client, f"jobs/query/{job_id}", deadline=deadline, pause=pause)
    if state is None:
        _abort_query(client, job_id)
        raise QueryTimeoutError(
            f"Bulk query job {job_id} still running after {deadline:.0f} s: aborted; reading the window in"
            " halves"
        )
    if state.get("state") != "JobComplete":
        raise SalesforceRequestError(
            f"Bulk query job {job_id} ended {state.get('state')}: {state.get('errorMessage', '')}",
            "BULK_JOB_FAILED",
        )
    locator = ""
    while True:
        params = f"?maxRecords={page_records}" + (f"&locator={locator}" if locator else "")
        text, locator = _results_page(client, f"jobs/query/{job_id}/results{params}")
        yield [csv_record(row) for row in csv.DictReader(io.StringIO(text))]
        if not locator or locator == "null":
            return


def _abort_query(client: BulkPort, job_id: str) -> None:
    """Abort a query job left running; one that finished meanwhile refuses, which is fine."""
    try:
        client.send("PATCH", f"jobs/query/{job_id}", {"state": "Aborted"}, idempotent=True)
        log.info("sf_bulk_query_aborted", job_id=job_id)
    except (SalesforceRequestError, RetriableError) as exc:
        log.info("sf_bulk_query_abort_failed", job_id=job_id, error=str(exc))


def _results_page(client: BulkPort, path: str) -> tuple[str, str]:
    """One results page and the `Sforce-Locator` of the next ('null' on the last)."""
    headers: dict[str, str] = {}
    text = client.send_raw("GET", path, headers_out=headers)
    return text, headers.get("Sforce-Locator", "null")


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


def _csv_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def csv_record(row: Mapping[str, str]) -> Record:
    """A Bulk CSV row in the form a REST query gives it, so events and hashes match either path.

    Empty cells are null, `true` / `false` booleans, `...Z` datetimes `...+0000`, and a column
    `Parent.Field` a nested record; numbers stay text (the CSV does not say which columns are numbers).
    """
    out: Record = {}
    for column, cell in row.items():
        value: Any = cell
        if cell == "":
            value = None
        elif cell in ("true", "false"):
            value = cell == "true"
        elif _DATETIME_Z.match(cell):
            value = (cell[:-1] if "." in cell else cell[:-1] + ".000") + "+0000"
        target = out
        *parents, name = column.split(".")
        for parent in parents:
            nested = target.get(parent)
            if not isinstance(nested, dict):
                nested = target[parent] = {}
            target = nested
        target[name] = value
    return out
