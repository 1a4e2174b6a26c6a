"""The admin API under `/__admin__/` (never part of the Salesforce surface, never counted).

It mirrors the Python handle for a standalone emulator: read the org's state and call counters,
seed data, move the clock, simulate activity and script faults. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

from connector.emulator.contacts import anonymise_contact, merge_contacts
from connector.emulator.org import Emulator
from connector.emulator.values import RecordError, format_datetime, to_json

PREFIX = "/__admin__/"


def _ok(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status, content_type="application/json")


def state(emu: Emulator) -> dict[str, Any]:
    """A summary of the org: record counts, API usage, call counters, clock, faults."""
    with emu.lock:
        return {
            "org_id": emu.org_id,
            "now": format_datetime(emu.clock.now()),
            "counts": emu.counts(),
            "api_usage": {"used": emu.api_used, "total": emu.settings.daily_api_limit},
            "calls": emu.call_counts(),
            "commit_lag_seconds": emu.store.commit_lag,
            "sessions": len(emu.tokens),
            "bulk_jobs": {j["id"]: j["state"] for j in [*emu.bulk_jobs.values(), *emu.query_jobs.values()]},
        }


def _faults(emu: Emulator, body: dict[str, Any]) -> None:
    """Apply a fault request: each key names one fault (see the module docstring of faults.py)."""
    faults = emu.faults
    if body.get("clear"):
        faults.clear()
        emu.set_commit_lag(0)
    if "fail_next" in body:
        spec = body["fail_next"]
        faults.fail_next(int(spec["count"]), int(spec.get("status", 503)), spec.get("endpoint"))
    if "error_rate" in body:
        spec = body["error_rate"]
        faults.set_error_rate(float(spec["rate"]), int(spec.get("status", 503)))
    if "delay_next" in body:
        spec = body["delay_next"]
        faults.delay_next(int(spec["count"]), float(spec["seconds"]), spec.get("endpoint"))
    if "lock_rows" in body:
        spec = body["lock_rows"]
        faults.lock_rows(int(spec.get("count", 0)), set(spec.get("ids", [])), float(spec.get("rate", 0.0)))
    if "query_timeout" in body:
        spec = body["query_timeout"]
        rows_over = spec.get("rows_over")
        faults.query_timeouts(
            int(spec.get("count", 0)), None if rows_over is None else int(rows_over), spec.get("object")
        )
    if "tracking_moves_modstamp" in body:
        emu.set_tracking_moves_modstamp(bool(body["tracking_moves_modstamp"]))
    if "bulk_processing_seconds" in body:
        emu.set_bulk_processing(float(body["bulk_processing_seconds"]))
    if "expire_tokens_after" in body:
        emu.expire_tokens_after(int(body["expire_tokens_after"]))
    if body.get("expire_tokens"):
        emu.expire_tokens()
    if "api_limit" in body:
        spec = body["api_limit"]
        emu.set_api_limit(int(spec["total"]), spec.get("used"))
    if "field_edit" in body:  # {"object", "field", "editable"}: field-level edit access of the user
        spec = body["field_edit"]
        emu.set_field_edit(str(spec["object"]), str(spec["field"]), bool(spec.get("editable", False)))
    if "commit_lag_seconds" in body:
        emu.set_commit_lag(float(body["commit_lag_seconds"]))


def _setup(emu: Emulator, body: dict[str, Any]) -> None:
    """Setup changes: `hide` / `show` {object, field?} for the integration user (field-level security),
    `track` {object, field, on} for field history tracking."""
    for key, apply in (("hide", emu.access.hide), ("show", emu.access.show)):
        if key in body:
            spec = body[key]
            apply(str(spec["object"]), str(spec.get("field", "")))
    if "track" in body:
        spec = body["track"]
        emu.set_tracked(str(spec["object"]), str(spec["field"]), bool(spec.get("on", True)))


def _activity(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    action = body.get("action")
    if action == "move_application":
        emu.move_application(body["application_id"], body["step"])
    elif action == "apply":
        return {"id": emu.apply(body["contact_id"], body["job_id"], body.get("step", "Websollicitatie"))}
    elif action in ("open_email", "click_email"):
        emu.open_email(body["message_id"], clicked=action == "click_email")
    elif action == "reply_email":
        return {"id": emu.reply_email(body["message_id"])}
    elif action == "merge_contacts":
        return {"moved": merge_contacts(emu, body["master_id"], body["loser_id"])}
    elif action == "anonymise_contact":
        anonymise_contact(emu, body["contact_id"])
    else:
        raise ValueError(f"unknown action {action!r}")
    return {}


def handle(emu: Emulator, request: Request) -> Response:
    """Serve one admin request."""
    route = request.path[len(PREFIX) :].strip("/")
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
        if request.method == "GET" and route == "state":
            return _ok(state(emu))
        if request.method == "GET" and route.startswith("records/"):
            obj = route.split("/", 1)[1]
            if obj not in emu.schema:
                return _ok({"error": f"unknown object {obj}"}, 404)
            rows = emu.records(obj, include_deleted=True)
            return _ok([{k: to_json(v) for k, v in r.items()} for r in rows])
        if request.method == "POST" and route == "seed":
            return _ok(emu.seed(body.get("name", "demo")))
        if request.method == "POST" and route == "clock":
            return _ok({"now": format_datetime(emu.advance(float(body.get("advance_seconds", 0))))})
        if request.method == "POST" and route == "faults":
            _faults(emu, body)
            return _ok(state(emu))
        if request.method == "POST" and route == "setup":
            _setup(emu, body)
            return _ok({})
        if request.method == "POST" and route == "activity":
            return _ok(_activity(emu, body))
        if request.method == "POST" and route == "calls/reset":
            emu.reset_calls()
            return _ok({})
        if request.method == "POST" and route == "save":
            emu.save()
            return _ok({})
    except (ValueError, KeyError, TypeError, RecordError) as exc:
        return _ok({"error": f"{type(exc).__name__}: {exc}"}, 400)
    return _ok({"error": f"no admin route {request.method} {request.path}"}, 404)
