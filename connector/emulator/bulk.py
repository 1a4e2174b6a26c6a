"""Bulk API 2.0 ingest: create a job, upload CSV, mark UploadComplete, read status and results.

CSV semantics as in Salesforce: an empty value leaves a field unchanged, `#N/A` sets it to null.
The lifecycle is an org's: the `UploadComplete` PATCH answers `UploadComplete`; from then on the job
is `InProgress` until `OrgSettings.bulk_processing_seconds` of org time have passed since it was
closed, and then it is processed (its rows applied) and `JobComplete`. `tick` advances every job; the
app calls it before each API call, so a job completes whether or not anyone polls it. Results are CSV
with `sf__Id`, `sf__Created` / `sf__Error` before the uploaded columns, in an order of the org's own
(not the upload's), as Salesforce does not keep it either.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from connector.emulator.org import Emulator
from connector.emulator.values import RecordError, format_datetime
from connector.emulator.wire import ApiError, body_json, json_response, sobject

# Shared with the query jobs (bulk_query.py): the version prefix, CSV delimiters, a job's public view.
VERSION_PATH = r"/services/data/v(?P<ver>\d+\.\d)"
_V = VERSION_PATH
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
_OPERATIONS = ("insert", "update", "upsert", "delete")


def find_job(jobs: dict[str, dict[str, Any]], job_id: str) -> dict[str, Any]:
    """One job of `jobs` by id, or Salesforce's 404."""
    job = jobs.get(job_id)
    if job is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return job


def _job(emu: Emulator, job_id: str) -> dict[str, Any]:
    return find_job(emu.bulk_jobs, job_id)


def job_info(job: dict[str, Any]) -> dict[str, Any]:
    """What a job shows the client: its fields without the emulator's own (`_…`)."""
    return {k: v for k, v in job.items() if not k.startswith("_")}


def create_job(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`POST /jobs/ingest`."""
    body = body_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    operation = body.get("operation")
    if operation not in _OPERATIONS:
        raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
    obj = sobject(emu, str(body.get("object", "")))
    ext = body.get("externalIdFieldName")
    if operation == "upsert":
        fdef = emu.schema[obj].field(str(ext or ""))
        if fdef is None or not (fdef.external_id or fdef.name == "Id"):
            raise ApiError(
                400,
                "INVALIDJOB",
                f"InvalidJob : Field name provided, {ext} is not an External ID or indexed field for {obj}",
            )
        ext = fdef.name
    if body.get("columnDelimiter", "COMMA") not in DELIMITERS:
        raise ApiError(
            400, "INVALIDJOB", f"InvalidJob : Invalid column delimiter: {body.get('columnDelimiter')}"
        )
    job_id = emu.store.ids.new("750")
    now = format_datetime(emu.clock.now())
    job: dict[str, Any] = {
        "id": job_id, "operation": operation, "object": obj, "createdById": "005Kb0000000001AAA",
        "createdDate": now, "systemModstamp": now, "state": "Open", "externalIdFieldName": ext,
        "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(params["ver"]),
        "jobType": "V2Ingest", "contentUrl": f"services/data/v{params['ver']}/jobs/ingest/{job_id}/batches",
        "lineEnding": body.get("lineEnding", "LF"), "columnDelimiter": body.get("columnDelimiter", "COMMA"),
        "numberRecordsProcessed": 0, "numberRecordsFailed": 0, "retries": 0, "totalProcessingTime": 0,
        "_data": [], "_ok": [], "_failed": [], "_header": [],
    }  # fmt: skip
    emu.bulk_jobs[job_id] = job
    return json_response(job_info(job))


def upload(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`PUT /jobs/ingest/{id}/batches`: the job's CSV data (201, empty body)."""
    job = _job(emu, params["job"])
    if job["state"] != "Open":
        raise ApiError(
            409, "INVALIDJOBSTATE", f"Job {job['id']} is not open for data upload (state {job['state']})"
        )
    if job["_data"]:
        raise ApiError(409, "INVALIDJOBSTATE", "Only one data upload is allowed per job")
    job["_data"].append(request.get_data(as_text=True))
    return Response(status=201)


def set_state(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`PATCH /jobs/ingest/{id}` with `{"state": "UploadComplete" | "Aborted"}`."""
    job = _job(emu, params["job"])
    body = body_json(request)
    wanted = body.get("state") if isinstance(body, dict) else None
    if job["state"] != "Open" or wanted not in ("UploadComplete", "Aborted"):
        raise ApiError(400, "INVALIDJOBSTATE", f"Cannot change state from {job['state']} to {wanted}")
    if wanted == "Aborted":
        job["state"] = "Aborted"
    else:
        job["state"], job["_closed"] = "UploadComplete", emu.clock.now()
    job["systemModstamp"] = format_datetime(emu.clock.now())
    return json_response(job_info(job))


def status(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /jobs/ingest/{id}`."""
    return json_response(job_info(_job(emu, params["job"])))


def list_jobs(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /jobs/ingest`."""
    return json_response(
        {"done": True, "records": [job_info(j) for j in emu.bulk_jobs.values()], "nextRecordsUrl": None}
    )


def results(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /jobs/ingest/{id}/successfulResults | failedResults | unprocessedrecords` as CSV."""
    job = _job(emu, params["job"])
    kind = params["kind"]
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    if kind == "unprocessedrecords":
        writer.writerow(job["_header"])
        if job["state"] in ("Open", "Aborted"):
            for text in job["_data"]:
                writer.writerows(list(csv.reader(io.StringIO(text)))[1:])
    else:
        first = "sf__Created" if kind == "successfulResults" else "sf__Error"
        writer.writerow(["sf__Id", first, *job["_header"]])
        writer.writerows(job["_ok"] if kind == "successfulResults" else job["_failed"])
    return Response(out.getvalue(), 200, content_type="text/csv")


def delete_job(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`DELETE /jobs/ingest/{id}`."""
    job = _job(emu, params["job"])
    if job["state"] not in ("JobComplete", "Aborted", "Failed"):
        raise ApiError(400, "INVALIDJOBSTATE", "Only closed jobs can be deleted")
    del emu.bulk_jobs[job["id"]]
    return Response(status=204)


def tick(emu: Emulator) -> None:
    """Move closed jobs on: `InProgress` while their processing time runs, then processed."""
    now = emu.clock.now()
    wait = timedelta(seconds=emu.settings.bulk_processing_seconds)
    for job in list(emu.bulk_jobs.values()):
        if job["state"] not in ("UploadComplete", "InProgress"):
            continue
        if now - job["_closed"] >= wait:
            _process(emu, job)
        else:
            job["state"] = "InProgress"
        job["systemModstamp"] = format_datetime(now)


def _process(emu: Emulator, job: dict[str, Any]) -> None:
    """Apply every CSV row; record a success or failure line per row (then shuffled, as an org)."""
    text = "".join(job["_data"])
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job["columnDelimiter"]]))
    if not rows:
        job.update(state="Failed", errorMessage="InvalidBatch : Records not processed: no CSV data uploaded")
        return
    header, data = rows[0], [r for r in rows[1:] if r]
    job["_header"] = header
    odef = emu.schema[job["object"]]
    unknown = [col for col in header if odef.field(col) is None]
    if unknown:
        job.update(state="Failed", errorMessage=f"InvalidBatch : Field name not found : {unknown[0]}")
        return
    for row in data:
        values: dict[str, Any] = {}
        for col, cell in zip(header, row, strict=False):
            if cell == "#N/A":
                values[col] = None
            elif cell != "":
                values[col] = cell
        try:
            record_id, created = _write(emu, job, values)
            job["_ok"].append([record_id, "true" if created else "false", *row])
        except RecordError as exc:
            message = f"{exc.status_code}:{exc.message}:{','.join(exc.fields)} --"
            job["_failed"].append([values.get("Id", ""), message, *row])
    rng = random.Random(job["id"])
    for lines in (job["_ok"], job["_failed"]):
        before = list(lines)
        rng.shuffle(lines)
        if len(lines) > 1 and lines == before:
            lines.reverse()
    job.update(
        state="JobComplete",
        numberRecordsProcessed=len(data),
        numberRecordsFailed=len(job["_failed"]),
        totalProcessingTime=int(emu.settings.bulk_processing_seconds * 1000) + len(data) // 10,
    )


def _write(emu: Emulator, job: dict[str, Any], values: dict[str, Any]) -> tuple[str, bool]:
    obj, operation, store = job["object"], job["operation"], emu.store
    if operation == "insert":
        return store.create(obj, values, from_csv=True), True
    if operation == "upsert":
        ext = job["externalIdFieldName"]
        key = next((v for k, v in values.items() if k.lower() == ext.lower()), None)
        return store.upsert(obj, ext, key, values, from_csv=True)
    record_id = next((v for k, v in values.items() if k.lower() == "id"), None)
    if not record_id:
        raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
    if operation == "delete":
        store.delete(obj, record_id)
    else:
        store.update(obj, record_id, {k: v for k, v in values.items() if k.lower() != "id"}, from_csv=True)
    return str(record_id), False


ROUTES = [
    ("POST", _V + "/jobs/ingest", "bulk_create_job", create_job),
    ("GET", _V + "/jobs/ingest", "bulk_list_jobs", list_jobs),
    ("PUT", _V + r"/jobs/ingest/(?P<job>\w+)/batches", "bulk_upload", upload),
    ("PATCH", _V + r"/jobs/ingest/(?P<job>\w+)", "bulk_set_state", set_state),
    ("GET", _V + r"/jobs/ingest/(?P<job>\w+)", "bulk_status", status),
    ("DELETE", _V + r"/jobs/ingest/(?P<job>\w+)", "bulk_delete_job", delete_job),
    (
        "GET",
        _V + r"/jobs/ingest/(?P<job>\w+)/(?P<kind>successfulResults|failedResults|unprocessedrecords)",
        "bulk_results",
        results,
    ),
]
