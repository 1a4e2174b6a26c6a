"""HTTP helpers shared by the Salesforce-surface handlers: JSON responses and Salesforce error bodies."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

from connector.emulator.org import Emulator
from connector.emulator.schema import resolve_object


class ApiError(Exception):
    """A whole-request failure with Salesforce's error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = [{"message": message, "errorCode": code}]


def json_response(data: Any, status: int = 200) -> Response:
    """A JSON response with Salesforce's content type."""
    return Response(
        json.dumps(data, separators=(",", ":")), status, content_type="application/json;charset=UTF-8"
    )


def body_json(request: Request) -> Any:
    """The request's JSON body; 400 JSON_PARSER_ERROR when it is not JSON."""
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "JSON_PARSER_ERROR", f"Unexpected character at [line:{exc.lineno}, column:{exc.colno}]"
        ) from None


def sobject(emu: Emulator, name: str) -> str:
    """The canonical name of an sObject in a URL; 404 NOT_FOUND when the org has none."""
    obj = resolve_object(emu.user_schema(), name)  # an object hidden from the user is not there
    if obj is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return obj.name
