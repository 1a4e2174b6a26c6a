"""Bulk API 2.0 query jobs: create, poll, read the results as CSV pages with `Sforce-Locator`.

The lifecycle follows the ingest jobs': a new job answers `UploadComplete`, is `InProgress` while
`OrgSettings.bulk_processing_seconds` of org time run, then runs its query once and is `JobComplete`
(`tick`, called before every API call). Results: CSV with the selected field paths as the header,
empty cells for nulls, `true` / `false`, datetimes as `2026-11-26T13:28:07.000Z`; at most
`maxRecords` rows a page (default `DEFAULT_PAGE`), `Sforce-Locator` names the next page (the string
`null` on the last), `Sforce-NumberOfRecords` counts the rows of this page.
"""

from __future__ import annotations

import base64
import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from connector.emulator.access import query_view
from connector.emulator.bulk import DELIMITERS, VERSION_PATH, find_job, job_info
from connector.emulator.org import Emulator
from connector.emulator.query import Evaluator, resolve
from connector.emulator.soql import SoqlError, parse
from connector.emulator.values import format_datetime
from connector.emulator.wire import ApiError, body_json, json_response

_V = VERSION_PATH
DEFAULT_PAGE = 100_000  # rows of one results page when the client names no maxRecords


def _job(emu: Emulator, job_id: str) -> dict[str, Any]:
    return find_job(emu.query_jobs, job_id)


def create_job(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`POST /jobs/query` with `{"operation": "query" | "queryAll", "query": ...}`."""
    body = body_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    operation = body.get("operation", "query")
    if operation not in ("query", "queryAll"):
        raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
    delimiter = body.get("columnDelimiter", "COMMA")
    if delimiter not in DELIMITERS:
        raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid column delimiter: {delimiter}")
    text = str(body.get("query", ""))
    try:
        parsed = parse(text)
        tables = query_view(emu.store, emu.access, emu.schema, parsed.sobject)
        obj = Evaluator(tables, emu.clock.now()).root(parsed)
        for name in parsed.fields:
            resolve(tables.schema, obj, name)
    except SoqlError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    if parsed.count or parsed.offset is not None:
        raise ApiError(400, "API_ERROR", "Bulk API 2.0 query does not support COUNT() or OFFSET")
    job_id = emu.store.ids.new("750")
    now = emu.clock.now()
    job: dict[str, Any] = {
        "id": job_id, "operation": operation, "object": obj.name, "createdById": "005Kb0000000001AAA",
        "createdDate": format_datetime(now), "systemModstamp": format_datetime(now),
        "state": "UploadComplete", "concurrencyMode": "Parallel", "contentType": "CSV",
        "apiVersion": float(params["ver"]), "jobType": "V2Query", "lineEnding": body.get("lineEnding", "LF"),
        "columnDelimiter": delimiter, "numberRecordsProcessed": 0, "retries": 0, "totalProcessingTime": 0,
        "isPkChunkingSupported": False, "_query": text, "_closed": now, "_rows": [], "_header": [],
    }  # fmt: skip
    emu.query_jobs[job_id] = job
    return json_response({k: v for k, v in job_info(job).items() if k not in _AFTER_CREATE})


_AFTER_CREATE = (
    "jobType",
    "numberRecordsProcessed",
    "retries",
    "totalProcessingTime",
    "isPkChunkingSupported",
)


def tick(emu: Emulator) -> None:
    """Move query jobs on: `InProgress` while their processing time runs, then run once, complete."""
    now = emu.clock.now()
    wait = timedelta(seconds=emu.settings.bulk_processing_seconds)
    for job in emu.query_jobs.values():
        if job["state"] not in ("UploadComplete", "InProgress"):
            continue
        if now - job["_closed"] >= wait:
            _run(emu, job)
        else:
            job["state"] = "InProgress"
        job["systemModstamp"] = format_datetime(now)


def _run(emu: Emulator, job: dict[str, Any]) -> None:
    parsed = parse(job["_query"])
    tables = query_view(emu.store, emu.access, emu.schema, parsed.sobject)  # the user's view, as REST
    evaluator = Evaluator(tables, emu.clock.now())
    obj = evaluator.root(parsed)
    _, rows, _ = evaluator.select(
        parsed, include_deleted=job["operation"] == "queryAll", api_version=str(job["apiVersion"])
    )
    paths = [resolve(tables.schema, obj, name) for name in parsed.fields]
    job["_header"] = [".".join(p.names) for p in paths]
    job["_rows"] = [[_cell(evaluator.read(row, p)) for p in paths] for row in rows]
    job.update(state="JobComplete", numberRecordsProcessed=len(rows), totalProcessingTime=len(rows) // 100)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value).replace("+0000", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def status(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /jobs/query/{id}`."""
    return json_response(job_info(_job(emu, params["job"])))


def list_jobs(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /jobs/query`."""
    records = [job_info(j) for j in emu.query_jobs.values()]
    return json_response({"done": True, "records": records, "nextRecordsUrl": None})


def set_state(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`PATCH /jobs/query/{id}` with `{"state": "Aborted"}`."""
    job = _job(emu, params["job"])
    body = body_json(request)
    wanted = body.get("state") if isinstance(body, dict) else None
    if wanted != "Aborted" or job["state"] not in ("UploadComplete", "InProgress"):
        raise ApiError(400, "INVALIDJOBSTATE", f"Cannot change state from {job['state']} to {wanted}")
    job["state"] = "Aborted"
    return json_response(job_info(job))


def delete_job(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`DELETE /jobs/query/{id}`."""
    job = _job(emu, params["job"])
    if job["state"] not in ("JobComplete", "Aborted", "Failed"):
        raise ApiError(400, "INVALIDJOBSTATE", "Only closed jobs can be deleted")
    del emu.query_jobs[job["id"]]
    return Response(status=204)


def results(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /jobs/query/{id}/results?locator=&maxRecords=`: one page of CSV."""
    job = _job(emu, params["job"])
    if job["state"] != "JobComplete":
        raise ApiError(400, "INVALIDJOBSTATE", f"Job {job['id']} is not complete (state {job['state']})")
    if str(job["apiVersion"]) != params["ver"]:
        raise ApiError(409, "INVALIDJOBSTATE", "Use the API version that created the job to read its results")
    start = _offset(request.args.get("locator"))
    size_arg = request.args.get("maxRecords", "")
    if size_arg and (not size_arg.isdigit() or int(size_arg) <= 0):
        raise ApiError(400, "INVALIDPARAMETERVALUE", f"maxRecords: invalid value {size_arg}")
    size = int(size_arg) if size_arg else DEFAULT_PAGE
    page = job["_rows"][start : start + size]
    out = io.StringIO()
    delimiter = DELIMITERS[job["columnDelimiter"]]
    line_end = "\r\n" if job["lineEnding"] == "CRLF" else "\n"
    writer = csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator=line_end)
    writer.writerow(job["_header"])
    writer.writerows(page)
    end = start + len(page)
    locator = base64.b64encode(str(end).encode()).decode() if end < len(job["_rows"]) else "null"
    response = Response(out.getvalue(), 200, content_type="text/csv")
    response.headers["Sforce-Locator"] = locator
    response.headers["Sforce-NumberOfRecords"] = str(len(page))
    return response


def _offset(locator: str | None) -> int:
    if not locator:
        return 0
    try:
        return int(base64.b64decode(locator, validate=True).decode())
    except ValueError:
        raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from None


ROUTES = [
    ("POST", _V + "/jobs/query", "bulk_query_create", create_job),
    ("GET", _V + "/jobs/query", "bulk_query_list", list_jobs),
    ("GET", _V + r"/jobs/query/(?P<job>\w+)/results", "bulk_query_results", results),
    ("GET", _V + r"/jobs/query/(?P<job>\w+)", "bulk_query_status", status),
    ("PATCH", _V + r"/jobs/query/(?P<job>\w+)", "bulk_query_set_state", set_state),
    ("DELETE", _V + r"/jobs/query/(?P<job>\w+)", "bulk_query_delete", delete_job),
]
