"""Single-record sObject endpoints and sObject Collections (create, update, upsert, delete).

Collections answer HTTP 200 with one result per record, in request order; with `allOrNone` a single
failure rolls every write of the request back and the others report ALL_OR_NONE_OPERATION_ROLLED_BACK.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from connector.emulator.org import Emulator
from connector.emulator.store import Row
from connector.emulator.values import RecordError, normalise_id, to_json
from connector.emulator.wire import ApiError, body_json, json_response, sobject

MAX_COLLECTION = 200
_V = r"/services/data/v(?P<ver>\d+\.\d)"
_ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)


def _record_json(emu: Emulator, obj: str, row: Row, ver: str, fields: list[str] | None) -> dict[str, Any]:
    odef = emu.schema[obj]
    names = [odef.field(f).name for f in fields if odef.field(f)] if fields else list(odef.fields)  # type: ignore[union-attr]
    out: dict[str, Any] = {
        "attributes": {"type": obj, "url": f"/services/data/v{ver}/sobjects/{obj}/{row['Id']}"}
    }
    out.update({name: to_json(row.get(name)) for name in names})
    return out


def _live_row(emu: Emulator, obj: str, record_id: str) -> Row:
    row = emu.store.get(obj, record_id)
    if row is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    if row["IsDeleted"]:
        raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
    return row


def _dict_body(request: Request) -> dict[str, Any]:
    body = body_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body


def _fail(exc: RecordError, status: int = 400) -> Response:
    return json_response(exc.as_body(), status)


def create(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`POST /sobjects/{Obj}`."""
    obj = sobject(emu, params["obj"])
    try:
        new_id = emu.store.create(obj, _dict_body(request))
    except RecordError as exc:
        return _fail(exc)
    return json_response({"id": new_id, "success": True, "errors": []}, 201)


def read(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /sobjects/{Obj}/{Id}[?fields=...]`."""
    obj = sobject(emu, params["obj"])
    row = _live_row(emu, obj, params["id"])
    fields = request.args.get("fields")
    return json_response(_record_json(emu, obj, row, params["ver"], fields.split(",") if fields else None))


def update(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`PATCH /sobjects/{Obj}/{Id}`: 204 on success."""
    obj = sobject(emu, params["obj"])
    try:
        emu.store.update(obj, params["id"], _dict_body(request))
    except RecordError as exc:
        return _fail(exc, 404 if exc.status_code == "INVALID_CROSS_REFERENCE_KEY" and not exc.fields else 400)
    return Response(status=204)


def delete(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`DELETE /sobjects/{Obj}/{Id}`: 204 on success."""
    obj = sobject(emu, params["obj"])
    _live_row(emu, obj, params["id"])
    try:
        emu.store.delete(obj, params["id"])
    except RecordError as exc:
        return _fail(exc)
    return Response(status=204)


def upsert(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`PATCH /sobjects/{Obj}/{ExtField}/{value}`: 201 when created, 200 when updated."""
    obj = sobject(emu, params["obj"])
    try:
        record_id, created = emu.store.upsert(obj, params["field"], params["value"], _dict_body(request))
    except RecordError as exc:
        return _fail(exc, 404 if exc.status_code == "NOT_FOUND" else 400)
    return json_response(
        {"id": record_id, "success": True, "errors": [], "created": created}, 201 if created else 200
    )


def read_by_external_id(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /sobjects/{Obj}/{ExtField}/{value}`."""
    obj = sobject(emu, params["obj"])
    fdef = emu.schema[obj].field(params["field"])
    if fdef is None or not fdef.external_id:
        raise ApiError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {params['field']}",
        )
    found = emu.store.by_external_id(obj, fdef.name, params["value"])
    if found is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return json_response(_record_json(emu, obj, _live_row(emu, obj, found), params["ver"], None))


# ----- Collections ---------------------------------------------------------------------------------------
def _collection(request: Request) -> tuple[list[dict[str, Any]], bool]:
    body = _dict_body(request)
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ApiError(400, "JSON_PARSER_ERROR", "records: expected a JSON array of objects")
    if len(records) > MAX_COLLECTION:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call",
        )
    return records, bool(body.get("allOrNone", False))


def _get(record: dict[str, Any], name: str) -> Any:
    """A record's value for field `name`, whatever the case of its key (as Salesforce reads it)."""
    return next((v for k, v in record.items() if k.lower() == name.lower()), None)


def _record_type(emu: Emulator, record: dict[str, Any], expected: str | None) -> str:
    attrs = record.get("attributes")
    name = attrs.get("type") if isinstance(attrs, dict) else None
    if name is None and expected is None:
        raise RecordError("INVALID_TYPE", "Must specify a type in attributes field")
    try:
        obj = sobject(emu, str(name or expected))
    except ApiError:
        raise RecordError("INVALID_TYPE", f"sObject type '{name}' is not supported.") from None
    if expected is not None and obj != expected:
        raise RecordError("INVALID_TYPE", f"Record type {obj} does not match the URL's {expected}")
    return obj


def _run(emu: Emulator, records: list[Any], all_or_none: bool, write: Any) -> list[dict[str, Any]]:
    """Apply `write` to each record, collecting per-record results; undo everything on allOrNone failure."""
    results: list[dict[str, Any]] = []
    with emu.store.batch() as rollback:
        for record in records:
            try:
                results.append({**write(record), "success": True, "errors": []})
            except RecordError as exc:
                failed: dict[str, Any] = {"success": False, "errors": [exc.as_result()]}
                if isinstance(record, dict) and _get(record, "Id") is not None:
                    failed = {"id": _get(record, "Id"), **failed}
                results.append(failed)
        if all_or_none and any(not r["success"] for r in results):
            rollback()
            results = [
                r
                if not r["success"]
                else {"id": None, "success": False, "errors": [_ROLLED_BACK.as_result()]}
                for r in results
            ]
    return results


def collection_create(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`POST /composite/sobjects`: create up to 200 records (mixed types allowed)."""
    records, all_or_none = _collection(request)

    def write(record: dict[str, Any]) -> dict[str, Any]:
        if _get(record, "Id") is not None:
            raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        return {"id": emu.store.create(_record_type(emu, record, None), record)}

    return json_response(_run(emu, records, all_or_none, write))


def collection_update(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`PATCH /composite/sobjects`: update up to 200 records by Id."""
    records, all_or_none = _collection(request)

    def write(record: dict[str, Any]) -> dict[str, Any]:
        obj = _record_type(emu, record, None)
        record_id = _get(record, "Id")
        if not record_id:
            raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        values = {k: v for k, v in record.items() if k.lower() != "id"}
        emu.store.update(obj, str(record_id), values)
        return {"id": normalise_id(str(record_id))}

    return json_response(_run(emu, records, all_or_none, write))


def collection_upsert(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`PATCH /composite/sobjects/{Obj}/{ExtField}`: upsert up to 200 records by external id."""
    obj = sobject(emu, params["obj"])
    fdef = emu.schema[obj].field(params["field"])
    if fdef is None or not (fdef.external_id or fdef.name == "Id"):
        raise ApiError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {params['field']}",
        )
    records, all_or_none = _collection(request)
    seen: dict[str, int] = {}
    for record in records:
        key = str(_get(record, fdef.name) or "").lower()
        seen[key] = seen.get(key, 0) + 1

    def write(record: dict[str, Any]) -> dict[str, Any]:
        _record_type(emu, record, obj)
        value = _get(record, fdef.name)
        if value is not None and seen.get(str(value).lower(), 0) > 1:
            raise RecordError(
                "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [fdef.name]
            )
        record_id, created = emu.store.upsert(obj, fdef.name, value, record)
        return {"id": record_id, "created": created}

    return json_response(_run(emu, records, all_or_none, write))


def collection_delete(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`DELETE /composite/sobjects?ids=...&allOrNone=`: delete up to 200 records."""
    ids = [i for i in request.args.get("ids", "").split(",") if i]
    if len(ids) > MAX_COLLECTION:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call",
        )

    def write(record_id: str) -> dict[str, Any]:
        found = emu.store.find(record_id)
        if found is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        emu.store.delete(found[0], record_id)
        return {"id": found[1]["Id"]}

    all_or_none = request.args.get("allOrNone", "false").lower() == "true"
    return json_response(_run(emu, ids, all_or_none, write))


ROUTES = [
    ("POST", _V + r"/sobjects/(?P<obj>\w+)", "sobject_create", create),
    ("GET", _V + r"/sobjects/(?P<obj>\w+)/(?P<id>\w{15,18})", "sobject_get", read),
    ("PATCH", _V + r"/sobjects/(?P<obj>\w+)/(?P<id>\w{15,18})", "sobject_update", update),
    ("DELETE", _V + r"/sobjects/(?P<obj>\w+)/(?P<id>\w{15,18})", "sobject_delete", delete),
    ("PATCH", _V + r"/sobjects/(?P<obj>\w+)/(?P<field>\w+)/(?P<value>[^/]+)", "sobject_upsert", upsert),
    (
        "GET",
        _V + r"/sobjects/(?P<obj>\w+)/(?P<field>\w+)/(?P<value>[^/]+)",
        "sobject_get",
        read_by_external_id,
    ),
    ("POST", _V + r"/composite/sobjects", "collections_create", collection_create),
    ("PATCH", _V + r"/composite/sobjects", "collections_update", collection_update),
    ("DELETE", _V + r"/composite/sobjects", "collections_delete", collection_delete),
    (
        "PATCH",
        _V + r"/composite/sobjects/(?P<obj>\w+)/(?P<field>\w+)",
        "collections_upsert",
        collection_upsert,
    ),
]
