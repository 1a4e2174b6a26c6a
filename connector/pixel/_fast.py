"""The parsers' fast paths: shortcuts for the shapes most lines have, and the answers they remember.

A shortcut here answers only for a shape it knows, with exactly the answer of the general code it
stands in for (in `hits`, `hits_csv` and `hits_combined`); anything else takes the general code. Each
is pinned to that code by a hypothesis test in tests/pixel/test_fast_paths.py: change a shortcut
together with its test. This module imports none of ours (the general code imports it), so a
shortcut that needs the general code on a miss is handed it. The parsers' caches register here, so
`forget_remembered` empties them all.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import unquote_plus

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")
_Cache = TypeVar("_Cache", bound="dict[Any, Any]")
_FORGET: list[Callable[[], None]] = []


def remembered(maxsize: int) -> Callable[[Callable[[_K], _V]], Callable[[_K], _V]]:
    """`functools.lru_cache(maxsize)` for a function of one argument, emptied by `forget_remembered`."""

    def remember(function: Callable[[_K], _V]) -> Callable[[_K], _V]:
        cached = lru_cache(maxsize=maxsize)(function)
        _FORGET.append(cached.cache_clear)
        return cached

    return remember


def remembering(cache: _Cache) -> _Cache:
    """Register a dict of answers to be emptied by `forget_remembered`; return it.

    For the caches looked up inline in a function run for every line: `dict.get` costs ~30 ns there,
    a call of an lru_cache ~110 ns (Python 3.11), which measured 15-30% slower for these look-ups.
    Such a dict is bounded by clearing it when full: a flood of unique values cannot grow memory.
    """
    _FORGET.append(cache.clear)
    return cache


def forget_remembered() -> None:
    """Empty the parsers' caches (addresses, visitor ids, minutes, query values): a cold start."""
    for clear in _FORGET:
        clear()


# -- CSV -------------------------------------------------------------------------------------------

_CSV_FIELD_LIMIT = csv.field_size_limit()  # read once: the reader's own limit on a cell


def _plain_csv_row(text: str) -> list[str] | None:
    """The cells csv.reader gives for a one-line `text` of plain shape; None when it takes the reader.

    Plain: no line break or NUL, and every quote opens or closes a whole cell (`a,"b, c",d`), none
    doubled. Such a line needs no quote handling beyond cutting at the quotes (~1 us less a line).
    """
    if len(text) > _CSV_FIELD_LIMIT:
        return None  # the reader refuses a cell this long; let it say so
    if '"' not in text:
        return None if "\r" in text or "\n" in text or "\0" in text else text.split(",")
    pieces = text.split('"')
    last = len(pieces) - 1
    if last % 2 or "\r" in text or "\n" in text or "\0" in text:
        return None  # an odd number of quotes, or characters the reader treats specially
    # text = O0 "Q1" O2 "Q3" ... O_last: each O between quotes must be `,` or `,cells,`; O0 empty or
    # `cells,`; O_last empty or `,cells`. Anything else (a quote inside a cell, a doubled quote, text
    # after a closing quote) is left to the reader.
    row: list[str] = []
    first = pieces[0]
    if first:
        if first[-1] != ",":
            return None
        row.extend(first[:-1].split(","))
    for i in range(1, last, 2):
        row.append(pieces[i])
        outside = pieces[i + 1]
        if i + 1 < last:
            if not outside or outside[0] != "," or outside[-1] != ",":
                return None
            if len(outside) > 1:
                row.extend(outside[1:-1].split(","))
        elif outside:
            if outside[0] != ",":
                return None
            row.extend(outside[1:].split(","))
    return row


# -- combined access logs --------------------------------------------------------------------------

# The line cut at its quotes: when it has exactly the combined shape, the pieces are checked with two
# short patterns instead of running the full pattern over all ~300 characters (1.5 us a line).
_HEAD = re.compile(r"(\S+) \S+ \S+ \[([^\]]{1,40})\] ")
_STATUS = re.compile(r" (\d{3}) \S+ ")
_head_match, _status_match = _HEAD.fullmatch, _STATUS.fullmatch


def _usual_combined(text: str) -> tuple[str, str, str, str, str, str] | None:
    """The combined pattern's groups (ip, time, request, status, referrer, agent) of a usual line, or None.

    Usual: no escapes and exactly the quotes of `head "request" status "referrer" "agent"`. Then every
    piece between quotes is quote-free, and checking the head and the status piece whole gives the
    pattern's own groups: its greedy parts cannot reach past a quote here.
    """
    parts = text.split('"')
    if len(parts) != 7 or parts[4] != " " or "\\" in text:
        return None
    head = _head_match(parts[0])
    if head is None:
        return None
    code = _status_match(parts[2])
    if code is None:
        return None
    ip, when = head.groups()
    return ip, when, parts[1], code[1], parts[3], parts[5]


def _query_cutter(pixel_path: str) -> Callable[[str], str | None]:
    """A cut giving the query of a request `GET {pixel_path}?QUERY PROTOCOL`, None for other requests."""
    # With no space or '?' in the path, the query is what lies between that start and the last space:
    # what the general request cut gives for such a request.
    if " " in pixel_path or "?" in pixel_path:
        return lambda request: None
    quick = f"GET {pixel_path}?"
    start = len(quick)

    def cut(request: str) -> str | None:
        end = request.rfind(" ")
        return request[start:end] if end >= start and request.startswith(quick) else None

    return cut


def _pixel_query(query: str) -> tuple[str, str, str, str]:
    """The pixel's own parameters (u, r, v, t) of a query string, '' when absent; parse_qsl is 3x slower.

    A parameter given twice counts with its last value, as a dict of all pairs would give it.
    """
    page = referrer = visitor = token = ""
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key in _PIXEL_PARAMS:
            if "%" in value or "+" in value:
                value = _UNQUOTED.get(value) or _unquoted(value)
            if key == "u":
                page = value
            elif key == "v":
                visitor = value
            elif key == "r":
                referrer = value
            else:
                token = value
    return page, referrer, visitor, token


def _unquoted(value: str) -> str:
    # Pages and referrers repeat across a log; unquote_plus costs ~2 us, a dict look-up 0.05.
    known = _UNQUOTED.get(value)
    if known is None:
        known = unquote_plus(value)
        if len(_UNQUOTED) >= 50_000:
            _UNQUOTED.clear()  # bounded: a crawl of unique URLs must not grow memory
        _UNQUOTED[value] = known
    return known


# A dict, read inline above, not an lru_cache: a call of one was ~25% slower (see `remembering`).
_UNQUOTED: dict[str, str] = remembering({})
_PIXEL_PARAMS = frozenset({"u", "r", "v", "t"})

_SECONDS = {f"{n:02d}": timedelta(seconds=n) for n in range(60)}  # "00".."59"


def _by_minute(parse: Callable[[str], datetime | None]) -> Callable[[str], datetime | None]:
    """`parse` (of access-log times) with each minute parsed once, then its seconds added."""
    # Lines of one minute share all of their time but the seconds. The bounds of a time are whole
    # minutes, so a minute in range is in range for each of its seconds: the answer is parse's own.
    # A dict, not an lru_cache: a call of one made each time ~15% slower (see `remembering`).
    minutes: dict[str, datetime | None] = remembering({})  # the time without its seconds -> its minute

    def parse_by_minute(text: str) -> datetime | None:
        seconds = _SECONDS.get(text[18:20]) if len(text) == 26 and text[17] == ":" else None
        if seconds is None:
            return parse(text)
        minute = text[:17] + text[20:]
        try:
            start = minutes[minute]
        except KeyError:
            start = parse(text[:18] + "00" + text[20:])
            if len(minutes) >= 10_000:
                minutes.clear()  # bounded; a log moves through its minutes in order
            minutes[minute] = start
        return None if start is None else start + seconds

    return parse_by_minute


# -- landing URLs ----------------------------------------------------------------------------------

# A URL whose query is the token alone (a tracked link's landing page) and whose part before the
# query is this plain is cut at the '?': what urlsplit + urlunsplit would give back, 20x faster.
_PLAIN_PATH = r"[A-Za-z0-9._~!$'()*+,;=:@%/-]*"
_PLAIN_BASE = re.compile(rf"https?://[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?(?:/{_PLAIN_PATH})?|/(?!/){_PLAIN_PATH}")


def _landing_token(url: str, param: str) -> tuple[str, str] | None:
    """`split_token`'s answer for a plain URL whose query is the `param` token alone; None for others."""
    base, _, query = url.partition("?")
    marker = param + "="
    # urlsplit drops tabs and line breaks anywhere in a URL (WHATWG); such a query takes the long way.
    plain_query = "&" not in query and "#" not in query and "\t" not in query and "\n" not in query
    if query.startswith(marker) and plain_query and "\r" not in query and _PLAIN_BASE.fullmatch(base):
        value = query[len(marker) :]
        return base, unquote_plus(value) if "%" in value or "+" in value else value
    return None
