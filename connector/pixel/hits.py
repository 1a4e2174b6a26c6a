"""Hits (one page view seen by a pixel) and the parsers that make them from NDJSON, CSV and access logs.

A parser never raises: it returns a `Hit` or the `Reason` the line was rejected for. IP addresses are
truncated here, before anything else sees them, and a contact token is moved out of the page URL into
`Hit.token`, so no stored URL carries one.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connector.events import derive_id


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


TOKEN_PARAM = "mt"  # noqa: S105 - the query parameter carrying a contact token, not a secret
FIELDS = ("time", "url", "referrer", "user_agent", "ip", "visitor_id", "token")
MAX_URL = 2048
_VISITOR = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# Hits outside these years are clock garbage, not visits.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Hit:
    """One page view: when, which page, from where, by which browser, and who (if known)."""

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
        return derive_id("hit", self.visitor_id, self.ip, self.at.isoformat(), self.url)


Parser = Callable[[bytes], "Hit | Reason"]


def truncate_ip(text: str) -> str:
    """Keep the network part of an address (IPv4 /24, IPv6 /48); '' when it is not an address."""
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) < 256 for p in parts):
        return f"{parts[0]}.{parts[1]}.{parts[2]}.0"
    if ":" in text:
        try:
            net = ipaddress.IPv6Network((text.split("%", 1)[0], 48), strict=False)
        except ValueError:
            return ""
        return str(net.network_address)
    return ""


def split_token(url: str, param: str) -> tuple[str, str]:
    """Remove the `param` query parameter from `url`; return (url without it, its value or '')."""
    if f"{param}=" not in url:
        return url, ""
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
        seconds = float(value) / 1000 if abs(value) > 1e11 else float(value)
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
    raw_time, url = obj.get("time"), obj.get("url")
    if raw_time is None or raw_time == "" or url is None or url == "":
        return Reason.MISSING_FIELD
    texts: dict[str, str] = {}
    for key in ("url", "referrer", "user_agent", "ip", "visitor_id", "token"):
        value = obj.get(key)
        if value is None:
            texts[key] = ""
        elif isinstance(value, str):
            texts[key] = value
        else:
            return Reason.MALFORMED
    url = texts["url"]
    if len(url) > MAX_URL or not url.startswith(("https://", "http://", "/")):
        return Reason.MALFORMED
    at = parse_hit_time(raw_time)
    if at is None:
        return Reason.BAD_TIME
    try:
        url, found = split_token(url, token_param)
    except ValueError:  # urlsplit refuses e.g. a malformed IPv6 netloc
        return Reason.MALFORMED
    visitor = texts["visitor_id"]
    return Hit(
        at=at,
        url=url,
        referrer=texts["referrer"][:MAX_URL],
        user_agent=texts["user_agent"][:512],
        ip=truncate_ip(texts["ip"]),
        visitor_id=visitor if _VISITOR.fullmatch(visitor) else "",
        token=texts["token"][:256] or found[:256],
    )


def _text(raw: bytes, max_bytes: int) -> str | Reason:
    if len(raw) > max_bytes:
        return Reason.OVERSIZED
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return Reason.MALFORMED
    return text or Reason.NOT_A_HIT


def parse_ndjson(raw: bytes, *, max_bytes: int = 8192, token_param: str = TOKEN_PARAM) -> Hit | Reason:
    """One NDJSON hit line: a JSON object with our field names."""
    text = _text(raw, max_bytes)
    if isinstance(text, Reason):
        return text
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return Reason.MALFORMED
    if not isinstance(obj, dict):
        return Reason.MALFORMED
    return hit_from_mapping(obj, token_param=token_param)


def csv_header(raw: bytes) -> tuple[str, ...]:
    """The column names of a CSV header line (lower-cased); () when it is not readable."""
    try:
        row = next(csv.reader([raw.decode("utf-8-sig").strip()]), [])
    except (UnicodeDecodeError, csv.Error):
        return ()
    return tuple(name.strip().lower() for name in row)


def parse_csv(
    raw: bytes, *, header: Sequence[str], max_bytes: int = 8192, token_param: str = TOKEN_PARAM
) -> Hit | Reason:
    """One CSV data line, read with the file's header (a repeated header line is not a hit)."""
    text = _text(raw, max_bytes)
    if isinstance(text, Reason):
        return text
    try:
        row = next(csv.reader([text]), [])
    except csv.Error:
        return Reason.MALFORMED
    if tuple(cell.strip().lower() for cell in row) == tuple(header):
        return Reason.NOT_A_HIT
    if len(row) != len(header):
        return Reason.MALFORMED
    return hit_from_mapping(dict(zip(header, row, strict=True)), token_param=token_param)


# Apache/nginx "combined": ip ident user [time] "request" status bytes "referrer" "user agent".
_COMBINED = re.compile(
    r'(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]{1,40})\] "(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) \S+'
    r'(?: "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<ua>(?:[^"\\]|\\.)*)")?'
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}


def parse_clf_time(text: str) -> datetime | None:
    """`10/Oct/2026:13:55:36 +0200` (the access-log time) as UTC; None when it is not one."""
    # strptime costs ~10 µs a line; slicing keeps the parser above 100,000 lines a second.
    if len(text) != 26 or text[2] != "/" or text[6] != "/" or text[11] != ":" or text[20] != " ":
        return None
    month = _MONTHS.get(text[3:6])
    zone = text[21:]
    digits = (text[0:2], text[7:11], text[12:14], text[15:17], text[18:20], zone[1:])
    if month is None or zone[0] not in "+-" or not all(d.isdigit() for d in digits):
        return None
    try:
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
        at = datetime(
            int(text[7:11]), month, int(text[0:2]), int(text[12:14]), int(text[15:17]), int(text[18:20]),
            tzinfo=timezone(-offset if zone[0] == "-" else offset),
        )  # fmt: skip
        at = at.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return at if _EARLIEST <= at < _LATEST else None


def parse_combined(
    raw: bytes, *, pixel_path: str = "/p.gif", max_bytes: int = 8192, token_param: str = TOKEN_PARAM
) -> Hit | Reason:
    """One access-log line; only successful GETs of `pixel_path` are hits (u=page, r=referrer, v, t)."""
    text = _text(raw, max_bytes)
    if isinstance(text, Reason):
        return text
    match = _COMBINED.match(text)
    if match is None:
        return Reason.MALFORMED
    method, _, rest = match["request"].partition(" ")
    target = rest.rsplit(" ", 1)[0] if " " in rest else rest
    path, _, query = target.partition("?")
    if method not in ("GET", "HEAD") or path != pixel_path or not "200" <= match["status"] < "400":
        return Reason.NOT_A_HIT
    at = parse_clf_time(match["time"])
    if at is None:
        return Reason.BAD_TIME
    params = dict(parse_qsl(query, keep_blank_values=True))
    referrer_header = (match["referrer"] or "").replace('\\"', '"')
    page = params.get("u") or (referrer_header if referrer_header != "-" else "")
    fields: dict[str, Any] = {
        "time": at.isoformat(),
        "url": page,
        "referrer": params.get("r", ""),
        "user_agent": (match["ua"] or "").replace('\\"', '"'),
        "ip": match["ip"],
        "visitor_id": params.get("v", ""),
        "token": params.get("t", ""),
    }
    return hit_from_mapping(fields, token_param=token_param)
