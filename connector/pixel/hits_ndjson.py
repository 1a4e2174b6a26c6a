"""NDJSON hit lines: one JSON object a line, with our field names (also the provider API's items).

Our collector's lines name the contact it proved (`contact`) with a `seal` over the line instead of
the token (see `tokens`); such a line is credited only when the seal verifies with a configured
secret, else it is `forged_token`. A proved line becomes the hit it stood for: one with a token,
signed here in memory (never stored), so attribution treats both alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from connector.pixel.hits import TOKEN_PARAM, Hit, Reason, _text, hit_from_mapping
from connector.pixel.tokens import Keyring

# The fields a collector line's seal covers, in this order ('' for one the line leaves out).
SEALED_FIELDS = ("time", "url", "referrer", "user_agent", "ip", "visitor_id", "contact")

# The C scanner behind json.loads, called directly: the same parser minus ~1.5 us of Python wrapping.
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def parse_ndjson(
    raw: bytes, *, max_bytes: int = 8192, token_param: str = TOKEN_PARAM, keys: Keyring | None = None
) -> Hit | Reason:
    """One NDJSON hit line: a JSON object with our field names (`keys`: to check collector seals)."""
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
        if obj.get("contact"):  # names a contact: only our collector's sealed lines may
            return _sealed(obj, keys, token_param)
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
    return hit_from_json(obj, token_param=token_param, keys=keys)


def seal_fields(obj: Mapping[str, Any]) -> list[str] | None:
    """The sealed fields of a line in order; None when one is not a string."""
    fields = [obj.get(name, "") for name in SEALED_FIELDS]
    return fields if all(type(value) is str for value in fields) else None


def _sealed(obj: Mapping[str, Any], keys: Keyring | None, token_param: str) -> Hit | Reason:
    """A collector line naming a contact: the hit with that contact's token when its seal verifies."""
    fields, seal = seal_fields(obj), obj.get("seal")
    if fields is None or type(seal) is not str or "token" in obj:
        return Reason.FORGED_TOKEN  # the collector writes every sealed field as text, and no token
    if keys is None or not keys.unseal(fields, seal):
        return Reason.FORGED_TOKEN  # not written by our collector (or with a secret no longer listed)
    try:
        proof = keys.sign(fields[-1])
    except ValueError:
        return Reason.FORGED_TOKEN
    plain = {name: obj[name] for name in SEALED_FIELDS[:-1] if name in obj}
    return hit_from_mapping({**plain, "token": proof}, token_param=token_param)


def hit_from_json(
    obj: Mapping[str, Any], *, token_param: str = TOKEN_PARAM, keys: Keyring | None = None
) -> Hit | Reason:
    """`hit_from_mapping` for what the json module decoded: a text with a lone surrogate is malformed."""
    # json turns "\ud800" into a lone surrogate, which no UTF-8 encoder (the hit id, the ledger)
    # takes: such a hit would make every later step raise. orjson refuses those lines itself, so only
    # the json paths (lines orjson refused, the provider API) pay for this check.
    found = (
        _sealed(obj, keys, token_param)
        if obj.get("contact")
        else hit_from_mapping(obj, token_param=token_param)
    )
    if isinstance(found, Hit):
        try:
            "".join(found[1:]).encode()
        except UnicodeEncodeError:
            return Reason.MALFORMED
    return found
