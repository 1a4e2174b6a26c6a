"""The WSGI application: routing, the per-call pipeline (count, delay, session, limit, fault), queries.

Every call on the Salesforce surface passes the same pipeline, so faults and API usage behave the same
for queries, Collections and Bulk 2.0. The admin API lives under `/__admin__/` and never counts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from werkzeug.wrappers import Request, Response

from connector.emulator import admin, bulk, bulk_query, identity, rest
from connector.emulator.access import query_view
from connector.emulator.auth import OAuthError, grant
from connector.emulator.columns import column_metadata
from connector.emulator.describe import describe, describe_basic, describe_global, limits
from connector.emulator.faults import HTTP_ERROR_BODIES
from connector.emulator.org import Cursor, Emulator
from connector.emulator.query import Evaluator
from connector.emulator.soql import SoqlError, parse
from connector.emulator.wire import ApiError, json_response, sobject

Handler = Callable[[Emulator, Request, dict[str, str]], Response]
_V = r"/services/data/v(?P<ver>\d+\.\d)"
MAX_BATCH, MIN_BATCH = 2000, 200
log = structlog.get_logger(__name__)
CURSOR_IDLE = timedelta(minutes=15)
MAX_CURSORS = 100


# ----- query -------------------------------------------------------------------------------------------
def _batch_size(request: Request) -> int:
    options = request.headers.get("Sforce-Query-Options", "")
    match = re.search(r"batchSize\s*=\s*(\d+)", options)
    size = int(match.group(1)) if match else MAX_BATCH
    return max(MIN_BATCH, min(MAX_BATCH, size))


def _page(locator: str, cursor: Cursor, start: int, ver: str) -> Response:
    end = start + cursor.batch
    records = cursor.shape(cursor.rows[start:end])
    body: dict[str, Any] = {
        "totalSize": len(cursor.rows),
        "done": end >= len(cursor.rows),
        "records": records,
    }
    if end < len(cursor.rows):
        body["nextRecordsUrl"] = f"/services/data/v{ver}/query/{locator}-{end}"
    return json_response(body)


def _query(emu: Emulator, request: Request, params: dict[str, str], include_deleted: bool) -> Response:
    text = request.args.get("q")
    if text is None:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    try:
        parsed = parse(text)
        tables = query_view(emu.store, emu.access, emu.schema, parsed.sobject)
        evaluator = Evaluator(tables, emu.clock.now())
        if request.args.get("columns", "").lower() == "true":
            return json_response(column_metadata(evaluator, parsed))
        total, rows, shape = evaluator.select(
            parsed, include_deleted=include_deleted, api_version=params["ver"]
        )
    except SoqlError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    if emu.faults.query_timeout(len(rows), parsed.sobject):
        raise ApiError(400, "QUERY_TIMEOUT", "Your query request was running for too long.")
    batch = _batch_size(request)
    if parsed.count or len(rows) <= batch:
        return json_response({"totalSize": total, "done": True, "records": shape(rows)})
    now = emu.clock.now()
    emu.cursors = {k: c for k, c in emu.cursors.items() if now - c.touched < CURSOR_IDLE}
    while len(emu.cursors) >= MAX_CURSORS:
        emu.cursors.pop(next(iter(emu.cursors)))
    locator = emu.store.ids.new("01g")
    cursor = emu.cursors[locator] = Cursor(rows, shape, batch, now)
    return _page(locator, cursor, 0, params["ver"])


def query(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /query?q=`: live rows only."""
    return _query(emu, request, params, include_deleted=False)


def query_all(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /queryAll?q=`: deleted rows too, with IsDeleted = true."""
    return _query(emu, request, params, include_deleted=True)


def query_more(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /query/{locator}-{offset}`: the next page of a query."""
    locator, _, offset = params["locator"].rpartition("-")
    cursor = emu.cursors.get(locator)
    if cursor is None or not offset.isdigit() or emu.clock.now() - cursor.touched >= CURSOR_IDLE:
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    cursor.touched = emu.clock.now()
    return _page(locator, cursor, int(offset), params["ver"])


# ----- describe, limits, versions ------------------------------------------------------------------------
def get_global(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /sobjects/`."""
    return json_response(describe_global(emu.user_schema(), params["ver"]))


def get_basic(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /sobjects/{Obj}`: basic information (objectDescribe and recentItems)."""
    obj = emu.user_schema()[sobject(emu, params["obj"])]
    return json_response(describe_basic(obj, params["ver"]))


def get_describe(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /sobjects/{Obj}/describe`."""
    schema = emu.user_schema()
    obj = schema[sobject(emu, params["obj"])]
    return json_response(describe(schema, obj, emu.record_types, params["ver"]))


def get_limits(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /limits`."""
    return json_response(limits(emu.api_used, emu.settings.daily_api_limit))


ROUTES: list[tuple[str, re.Pattern[str], str, Handler]] = [
    (method, re.compile(pattern + r"/?\Z"), endpoint, handler)
    for method, pattern, endpoint, handler in [
        *identity.ROUTES,
        ("GET", _V + "/query", "query", query),
        ("GET", _V + "/queryAll", "queryAll", query_all),
        ("GET", _V + r"/query(?:All)?/(?P<locator>[\w-]+)", "query_more", query_more),
        ("GET", _V + "/limits", "limits", get_limits),
        ("GET", _V + "/sobjects", "describe_global", get_global),
        ("GET", _V + r"/sobjects/(?P<obj>\w+)", "describe_basic", get_basic),
        ("GET", _V + r"/sobjects/(?P<obj>\w+)/describe", "describe", get_describe),
        *rest.ROUTES,
        *bulk.ROUTES,
        *bulk_query.ROUTES,
    ]
]


def _route(method: str, path: str) -> tuple[str, Handler, dict[str, str]] | None:
    allowed: list[str] = []
    for verb, pattern, endpoint, handler in ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        if verb == method:
            params = match.groupdict()
            if "ver" in params:
                identity.check_version(params["ver"])
            return endpoint, handler, params
        allowed.append(verb)
    if allowed:
        methods = ",".join(dict.fromkeys(allowed))  # the methods this resource does allow
        message = f"HTTP Method '{method}' not allowed. Allowed are {methods}"
        raise ApiError(405, "METHOD_NOT_ALLOWED", message)
    return None


def _token(emu: Emulator, request: Request) -> Response:
    with emu.lock:
        emu.calls["token"] += 1
        try:
            return json_response(grant(emu, request.form, request.headers.get("Authorization")))
        except OAuthError as exc:
            return json_response(exc.body, 400)


def _session(emu: Emulator, request: Request, endpoint: str) -> None:
    """401 INVALID_SESSION_ID unless the bearer token is a live session; applies expire-after-N.

    The identity URL also takes the token as `oauth_token` in its query string (jsforce sends it so).
    """
    header = request.headers.get("Authorization", "")
    token = header.split(None, 1)[1].strip() if " " in header else ""
    if not token and endpoint == "identity":
        token = request.args.get("oauth_token", "")
    if not token or not emu.session_valid(token):
        raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
    if emu.expire_after is not None:
        if emu.expire_after <= 0:
            emu.expire_after = None
            emu.tokens.clear()
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        emu.expire_after -= 1


def _call(emu: Emulator, request: Request) -> Response:
    """One call on the Salesforce surface, through the whole pipeline."""
    routed = _route(request.method, request.path.rstrip("/") or "/")
    if routed is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    endpoint, handler, params = routed
    with emu.lock:
        emu.calls[endpoint] += 1
    delay = emu.faults.delay_for(endpoint)
    if delay:
        time.sleep(delay)  # the fault itself: a response that arrives late
    with emu.lock:
        _session(emu, request, endpoint)
        if emu.api_used >= emu.settings.daily_api_limit:
            raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        status = emu.faults.http_failure(endpoint)
        if status is not None:
            code, message = HTTP_ERROR_BODIES[status]
            raise ApiError(status, code, message)
        emu.api_used += 1
        bulk.tick(emu)
        bulk_query.tick(emu)
        return handler(emu, request, params)


def _error(exc: ApiError) -> Response:
    response = json_response(exc.body, exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Token realm="Salesforce"'
    return response


def make_app(emu: Emulator) -> Callable[..., Any]:
    """The WSGI application serving `emu`."""

    @Request.application
    def application(request: Request) -> Response:
        path = request.path
        if path.startswith(admin.PREFIX):
            return admin.handle(emu, request)
        if path.rstrip("/") == "/services/oauth2/token" and request.method == "POST":
            return _token(emu, request)
        try:
            response = _call(emu, request)
        except ApiError as exc:
            response = _error(exc)
        except Exception as exc:  # an emulator bug must still answer in Salesforce's shape
            log.exception("emulator_error", path=path)
            response = _error(ApiError(500, "UNKNOWN_EXCEPTION", f"emulator error: {exc!r}"))
        response.headers["Sforce-Limit-Info"] = emu.limit_info()
        return response

    return application
