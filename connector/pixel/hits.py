"""Hits (one page view seen by a pixel) and the parsers that make them from NDJSON, CSV and access logs.

A parser should never raise: it returns a `Hit` or the `Reason` the line was rejected for (a line
that makes one raise all the same is rejected by `pipeline.parse_lines` as `parser_crash`). IP addresses are
truncated here, before anything else sees them, and a contact token is moved out of the page URL into
`Hit.token`, so no stored URL carries one.
"""

from __future__ import annotations

import csv
import hashlib
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from operator import itemgetter
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import orjson


class Reason(StrEnum):
    """Why a line did not become (part of) an event; the values are the keys of every report."""

    MALFORMED = "malformed"
    MISSING_FIELD = "missing_field"
    BAD_TIME = "bad_time"
    OVERSIZED = "oversized"
    NOT_A_HIT = "not_a_hit"  # blank line, CSV header, a request for another path or a failed one
    BOT = "bot"
    IMPLAUSIBLE_RATE = "implausible_rate"
    FORGED_TOKEN = "forged_token"  # noqa: S105 - a reason name, not a secret
    NO_CONSENT = "no_consent"
    UNKNOWN_VISITOR = "unknown_visitor"
    PARSER_CRASH = "parser_crash"  # the parser raised (a bug): the line is passed, and reported


TOKEN_PARAM = "mt"  # noqa: S105 - the query parameter carrying a contact token, not a secret
FIELDS = ("time", "url", "referrer", "user_agent", "ip", "visitor_id", "token")
MAX_URL = 2048
_VISITOR = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# Hits outside these years are clock garbage, not visits.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class Hit(NamedTuple):
    """One page view: when, which page, from where, by which browser, and who (if known)."""

    # A NamedTuple, not a frozen dataclass: equally immutable, and built three times faster, which
    # matters at 100,000 hits a second.
    at: datetime
    url: str
    referrer: str = ""
    user_agent: str = ""
    ip: str = ""  # already truncated (/24 for IPv4, /48 for IPv6)
    visitor_id: str = ""  # the first-party cookie; empty when the site had no cookie consent
    token: str = ""  # a signed contact token from a tracked link, unverified

    @property
    def id(self) -> str:
        """A deterministic id, so the same hit read twice is kept once."""
        key = "\x1f".join((self.visitor_id, self.ip, self.at.isoformat(), self.url))
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def truncate_ip(text: str) -> str:
    """Keep the network part of an address (IPv4 /24, IPv6 /48); '' when it is not an address."""
    prefix, _, last = text.rpartition(".")
    if 0 < len(last) <= 3 and last.isdigit() and last.isascii():
        # Dotted, last part 1-3 digits: the answer depends on the rest only (a /24 keeps no part of
        # the last number), and a log's addresses share the rest far more often than repeat whole.
        known = _NETWORKS.get(prefix)
        if known is None:
            known = _truncate(prefix + ".0") if ":" not in prefix else _truncate(text)
            if ":" in prefix:
                return known  # IPv4 inside IPv6: not a network of four parts, not remembered
            if len(_NETWORKS) >= 100_000:
                _NETWORKS.clear()  # bounded: a flood of unique networks cannot grow memory
            _NETWORKS[prefix] = known
        return known
    known = _TRUNCATED.get(text)
    if known is None:
        known = _truncate(text)
        if len(_TRUNCATED) >= 100_000:
            _TRUNCATED.clear()
        _TRUNCATED[text] = known
    return known


_TRUNCATED: dict[str, str] = {}  # other texts (IPv6 addresses, garbage) -> what they truncate to
_NETWORKS: dict[str, str] = {}  # "a.b.c" -> what an address "a.b.c.N" truncates to
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}")


def _truncate(text: str) -> str:
    match = _IPV4.fullmatch(text)
    if match is not None:
        return f"{match[1]}.{match[2]}.{match[3]}.0" if max(map(int, match.groups())) < 256 else ""
    if ":" in text:
        try:
            net = ipaddress.IPv6Network((text.split("%", 1)[0], 48), strict=False)
        except ValueError:
            return ""
        return str(net.network_address)
    return ""


# A URL whose query is the token alone (a tracked link's landing page) and whose part before the
# query is this plain is cut at the '?': what urlsplit + urlunsplit would give back, 20x faster.
_PLAIN_PATH = r"[A-Za-z0-9._~!$'()*+,;=:@%/-]*"
_PLAIN_BASE = re.compile(rf"https?://[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?(?:/{_PLAIN_PATH})?|/(?!/){_PLAIN_PATH}")


def split_token(url: str, param: str) -> tuple[str, str]:
    """Remove the `param` query parameter from `url`; return (url without it, its value or '')."""
    if f"{param}=" not in url:
        return url, ""
    base, _, query = url.partition("?")
    marker = param + "="
    # urlsplit drops tabs and line breaks anywhere in a URL (WHATWG); such a query takes the long way.
    plain_query = "&" not in query and "#" not in query and "\t" not in query and "\n" not in query
    if query.startswith(marker) and plain_query and "\r" not in query and _PLAIN_BASE.fullmatch(base):
        value = query[len(marker) :]
        return base, unquote_plus(value) if "%" in value or "+" in value else value
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    token = next((v for k, v in pairs if k == param), "")
    rest = urlencode([(k, v) for k, v in pairs if k != param])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), token


def parse_hit_time(value: object) -> datetime | None:
    """An aware ISO 8601 string or epoch seconds (milliseconds above 1e11) as UTC; None if not a time."""
    at: datetime
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return None
        if at.tzinfo is None:
            return None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value) / 1000 if abs(value) > 1e11 else float(value)
        except OverflowError:  # an integer beyond any float (JSON allows 400 digits)
            return None
        if not math.isfinite(seconds) or not 0 < seconds < 4.2e9:
            return None
        at = datetime.fromtimestamp(seconds, UTC)
    else:
        return None
    try:
        at = at.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return at if _EARLIEST <= at < _LATEST else None


def hit_from_mapping(obj: Mapping[str, Any], *, token_param: str = TOKEN_PARAM) -> Hit | Reason:
    """Validate a dict of our field names (NDJSON, CSV, the provider API) into a Hit or a Reason."""
    get = obj.get
    raw_time, url = get("time"), get("url")
    if raw_time is None or raw_time == "" or url is None or url == "":
        return Reason.MISSING_FIELD
    referrer, agent, ip = get("referrer") or "", get("user_agent") or "", get("ip") or ""
    visitor, token = get("visitor_id") or "", get("token") or ""
    if not (
        type(url) is str
        and type(referrer) is str
        and type(agent) is str
        and type(ip) is str
        and type(visitor) is str
        and type(token) is str
    ):
        return Reason.MALFORMED
    at = parse_hit_time(raw_time)
    if at is None:
        return Reason.BAD_TIME if _url_ok(url) else Reason.MALFORMED
    return make_hit(at, url, referrer, agent, ip, visitor, token, token_param)


_URL_STARTS = ("https://", "http://", "/")


def _url_ok(url: str) -> bool:
    return len(url) <= MAX_URL and url.startswith(_URL_STARTS)


def _valid_visitor(visitor: str) -> bool:
    # Visitor ids repeat line after line; remember the regex's answer (~0.4 us a line saved).
    known = _VISITORS.get(visitor)
    if known is None:
        known = _VISITOR.fullmatch(visitor) is not None
        if len(_VISITORS) >= 100_000:
            _VISITORS.clear()  # bounded, like the address cache
        _VISITORS[visitor] = known
    return known


_VISITORS: dict[str, bool] = {}
# tuple.__new__ builds the same Hit as Hit(...) without the generated Python-level __new__: half the
# cost, paid once per line. The arguments are always the seven fields, in order.
_new_hit: Callable[[type[Hit], tuple[datetime, str, str, str, str, str, str]], Hit] = tuple.__new__


def make_hit(
    at: datetime, url: str, referrer: str, agent: str, ip: str, visitor: str, token: str, token_param: str
) -> Hit | Reason:
    """A Hit from checked-type fields: URL checked, address truncated, token moved out of the URL."""
    if len(url) > MAX_URL or not url.startswith(_URL_STARTS):
        return Reason.MALFORMED
    if token_param + "=" in url:
        try:
            url, found = split_token(url, token_param)
        except ValueError:  # urlsplit refuses e.g. a malformed IPv6 netloc
            return Reason.MALFORMED
        token = token or found
    if ip:
        ip = truncate_ip(ip)
    if visitor and not _valid_visitor(visitor):
        visitor = ""
    return _new_hit(Hit, (at, url, referrer[:MAX_URL], agent[:512], ip, visitor, token[:256]))


def _text(raw: bytes, max_bytes: int) -> str | Reason:
    if len(raw) > max_bytes:
        return Reason.OVERSIZED
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return Reason.MALFORMED
    return text or Reason.NOT_A_HIT


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


def csv_header(raw: bytes) -> tuple[str, ...]:
    """The column names of a CSV header line (lower-cased); () when it is not readable."""
    try:
        row = next(csv.reader([raw.decode("utf-8-sig").strip()]), [])
    except (UnicodeDecodeError, csv.Error):
        return ()
    return tuple(name.strip().lower() for name in row)


class _OneLine:
    """The input of a long-lived csv reader: the line put in `line`, then the end of the input."""

    __slots__ = ("line",)

    def __init__(self) -> None:
        self.line: str | None = None

    def __iter__(self) -> _OneLine:
        return self

    def __next__(self) -> str:
        line, self.line = self.line, None
        if line is None:
            raise StopIteration
        return line


def csv_parser(
    header: Sequence[str], *, max_bytes: int = 8192, token_param: str = TOKEN_PARAM
) -> Callable[[bytes], Hit | Reason]:
    """`parse_csv` for the lines of one file: one csv reader serves them all (not one per line)."""
    # Each line reaches the reader as a one-line input, as csv.reader([text]) gives it: a quote left
    # open ends with the line, and an error ends only that line (the reader resets per record).
    # A parser belongs to one caller; its reader is not shared between threads.
    feed = _OneLine()
    reader = csv.reader(feed)
    names = tuple(header)
    first_name = names[0] if names else ""
    column = {name: i for i, name in enumerate(names)}  # a repeated name: its last column
    # A field without a column reads index -1: the '' appended to every row.
    at_col, url_col, *other_cols = (column.get(name, -1) for name in FIELDS)
    others = itemgetter(*other_cols)
    width = len(names)

    def parse(raw: bytes) -> Hit | Reason:
        text = _text(raw, max_bytes)
        if isinstance(text, Reason):
            return text
        row = _plain_csv_row(text)
        if row is None:
            feed.line = text
            try:
                row = next(reader, [])
            except csv.Error:
                return Reason.MALFORMED
        if len(row) != width:
            return Reason.MALFORMED
        # The header again (a file appended to by several writers); the first cell rules most lines out.
        if not row or (
            row[0].strip().lower() == first_name and tuple(c.strip().lower() for c in row) == names
        ):
            return Reason.NOT_A_HIT
        # hit_from_mapping(dict(zip(names, row))) written out for rows: every cell is a str, so the
        # type checks always pass, and a field's value is its last column (as in the dict).
        row.append("")
        raw_time, url = row[at_col], row[url_col]
        if not raw_time or not url:
            return Reason.MISSING_FIELD
        at = parse_hit_time(raw_time)
        if at is None:
            return Reason.BAD_TIME if _url_ok(url) else Reason.MALFORMED
        referrer, agent, ip, visitor, token = others(row)
        return make_hit(at, url, referrer, agent, ip, visitor, token, token_param)

    return parse


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


def parse_csv(
    raw: bytes, *, header: Sequence[str], max_bytes: int = 8192, token_param: str = TOKEN_PARAM
) -> Hit | Reason:
    """One CSV data line, read with the file's header (a repeated header line is not a hit)."""
    return csv_parser(header, max_bytes=max_bytes, token_param=token_param)(raw)


# Apache/nginx "combined": ip ident user [time] "request" status bytes "referrer" "user agent".
# Quoted parts are written unrolled ([^"\\]*(?:\\.[^"\\]*)*): no per-character alternation to backtrack.
_QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'
_COMBINED = re.compile(
    rf'(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]{{1,40}})\] "(?P<request>{_QUOTED})" (?P<status>\d{{3}}) \S+'
    rf'(?: "(?P<referrer>{_QUOTED})" "(?P<ua>{_QUOTED})")?'
)
# The same line cut at its quotes: when it has exactly the combined shape, the pieces are checked
# with two short patterns instead of running _COMBINED over all ~300 characters (1.5 us a line).
_HEAD = re.compile(r"(\S+) \S+ \S+ \[([^\]]{1,40})\] ")
_STATUS = re.compile(r" (\d{3}) \S+ ")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}


_CLF_TIME = re.compile(r"(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")
# Lines of one minute share all of their time but the seconds: the minute (with its zone) is parsed
# once, then the seconds are added. The bounds are whole minutes, so a minute in range is in range
# for each of its seconds, and the answer is the one the full parse gives.
_CLF_MINUTES: dict[str, datetime | None] = {}  # the time without its seconds -> its minute in UTC
_SECONDS = {f"{n:02d}": timedelta(seconds=n) for n in range(60)}  # "00".."59"


def parse_clf_time(text: str) -> datetime | None:
    """`10/Oct/2026:13:55:36 +0200` (the access-log time) as UTC; None when it is not one."""
    seconds = _SECONDS.get(text[18:20]) if len(text) == 26 and text[17] == ":" else None
    if seconds is None:
        return _parse_clf_time(text)
    minute = text[:17] + text[20:]
    try:
        start = _CLF_MINUTES[minute]
    except KeyError:
        start = _parse_clf_time(text[:18] + "00" + text[20:])
        if len(_CLF_MINUTES) >= 10_000:
            _CLF_MINUTES.clear()  # bounded; a log moves through its minutes in order
        _CLF_MINUTES[minute] = start
    return None if start is None else start + seconds


def _parse_clf_time(text: str) -> datetime | None:
    # strptime costs ~10 us a line; one regex and a few ints keep the parser fast.
    match = _CLF_TIME.fullmatch(text)
    month = _MONTHS.get(match[2]) if match else None
    if match is None or month is None:
        return None
    day, _, year, hour, minute, second, sign, zone_h, zone_m = match.groups()
    try:
        offset = timedelta(hours=int(zone_h), minutes=int(zone_m))
        zone = timezone(-offset if sign == "-" else offset)
        at = datetime(int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=zone)
        at = at.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return at if _EARLIEST <= at < _LATEST else None


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


_UNQUOTED: dict[str, str] = {}
_PIXEL_PARAMS = frozenset({"u", "r", "v", "t"})


def parse_combined(
    raw: bytes, *, pixel_path: str = "/p.gif", max_bytes: int = 8192, token_param: str = TOKEN_PARAM
) -> Hit | Reason:
    """One access-log line; only successful GETs of `pixel_path` are hits (u=page, r=referrer, v, t)."""
    return combined_parser(pixel_path=pixel_path, max_bytes=max_bytes, token_param=token_param)(raw)


def combined_parser(
    *, pixel_path: str = "/p.gif", max_bytes: int = 8192, token_param: str = TOKEN_PARAM
) -> Callable[[bytes], Hit | Reason]:
    """`parse_combined` with its settings bound: a plain call per line, no keyword handling."""
    # The usual request starts `GET /p.gif?`; with no space or '?' in the path, its query is what
    # lies between that start and the last space (the general cut below gives the same).
    quick = "" if " " in pixel_path or "?" in pixel_path else f"GET {pixel_path}?"
    head_match, status_match = _HEAD.fullmatch, _STATUS.fullmatch

    def parse(raw: bytes) -> Hit | Reason:
        text = _text(raw, max_bytes)
        if isinstance(text, Reason):
            return text
        # Fast path: no escapes and exactly the quotes of `head "request" status "referrer" "agent"`.
        # Then every piece between quotes is quote-free, and checking the head and the status piece
        # whole gives _COMBINED's own groups: its greedy parts cannot reach past a quote here.
        parts = text.split('"')
        head = code = None
        if len(parts) == 7 and parts[4] == " " and "\\" not in text:
            head = head_match(parts[0])
            code = status_match(parts[2]) if head is not None else None
        if head is not None and code is not None:
            ip, when = head.groups()
            request, status, referrer_header, agent = parts[1], code[1], parts[3], parts[5]
        else:
            fields = _combined_groups(text)
            if fields is None:
                return Reason.MALFORMED
            ip, when, request, status, referrer_header, agent = fields
        end = request.rfind(" ")
        if quick and end >= len(quick) and request.startswith(quick):
            query = request[len(quick) : end]  # `GET /p.gif?QUERY HTTP/1.1`, as cut below
        else:
            method, _, rest = request.partition(" ")
            target = rest.rsplit(" ", 1)[0] if " " in rest else rest
            path, _, query = target.partition("?")
            if method not in ("GET", "HEAD") or path != pixel_path:
                return Reason.NOT_A_HIT
        if not "200" <= status < "400":
            return Reason.NOT_A_HIT
        at = parse_clf_time(when)
        if at is None:
            return Reason.BAD_TIME
        page, referrer, visitor, token = _pixel_query(query) if query else _NO_PARAMS
        if not page:
            page = referrer_header if referrer_header != "-" else ""
            if not page:
                return Reason.MISSING_FIELD
        return make_hit(at, page, referrer, agent, ip, visitor, token, token_param)

    return parse


_NO_PARAMS = ("", "", "", "")


def _combined_groups(text: str) -> tuple[str, ...] | None:
    """`_COMBINED`'s groups (ip, time, request, status, referrer, agent) for `text`, or None."""
    match = _COMBINED.match(text)
    if match is None:
        return None
    # Escaped quotes inside the quoted parts are the quotes themselves; absent parts are empty.
    ip, when, request, status, referrer, agent = match.groups()
    return (
        ip,
        when,
        request,
        status,
        (referrer or "").replace('\\"', '"'),
        (agent or "").replace('\\"', '"'),
    )


def forget_remembered() -> None:
    """Empty the parsers' caches (addresses, visitor ids, minutes, query values): a cold start."""
    for cache in (_TRUNCATED, _NETWORKS, _VISITORS, _CLF_MINUTES, _UNQUOTED):
        cache.clear()
