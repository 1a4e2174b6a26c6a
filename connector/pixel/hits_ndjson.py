"""NDJSON hit lines: one JSON object a line, with our field names (also the provider API's items)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from connector.pixel.hits import TOKEN_PARAM, Hit, Reason, _text, hit_from_mapping

# The C scanner behind json.loads, called directly: the same parser minus ~1.5 us of Python wrapping.
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def parse_ndjson(raw: bytes, *, max_bytes: int = 8192, token_param: str = TOKEN_PARAM) -> Hit | Reason:
    """One NDJSON hit line: a JSON object with our field names."""
    if len(raw) > max_bytes:
        return Reason.OVERSIZED
    # orjson reads the bytes as they are, ~1 us a line faster than decode + strip + the json scanner.
    # It accepts a subset of what the json module does (no NaN, lone surrogates or non-JSON blanks
    # around the object), so any line it refuses takes the json path below and gets the same answer.
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        obj = None
    if type(obj) is dict:
        return hit_from_mapping(obj, token_param=token_param)
    text = _text(raw, max_bytes)
    if isinstance(text, Reason):
        return text
    try:
        obj, end = _scan_json(text, 0)
    except (StopIteration, ValueError, RecursionError):
        return Reason.MALFORMED
    if end != len(text) or not isinstance(obj, dict):
        return Reason.MALFORMED
    return hit_from_json(obj, token_param=token_param)


def hit_from_json(obj: Mapping[str, Any], *, token_param: str = TOKEN_PARAM) -> Hit | Reason:
    """`hit_from_mapping` for what the json module decoded: a text with a lone surrogate is malformed."""
    # json turns "\ud800" into a lone surrogate, which no UTF-8 encoder (the hit id, the ledger)
    # takes: such a hit would make every later step raise. orjson refuses those lines itself, so only
    # the json paths (lines orjson refused, the provider API) pay for this check.
    found = hit_from_mapping(obj, token_param=token_param)
    if isinstance(found, Hit):
        try:
            "".join(found[1:]).encode()
        except UnicodeEncodeError:
            return Reason.MALFORMED
    return found
