"""Web-server access logs ("combined" format): requests for the pixel are hits, other lines are not."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from connector.pixel._fast import _by_minute, _pixel_query, _query_cutter, _usual_combined
from connector.pixel.hits import _EARLIEST, _LATEST, TOKEN_PARAM, Hit, Reason, _text, make_hit

# Apache/nginx "combined": ip ident user [time] "request" status bytes "referrer" "user agent".
# Quoted parts are written unrolled ([^"\\]*(?:\\.[^"\\]*)*): no per-character alternation to backtrack.
_QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'
_COMBINED = re.compile(
    rf'(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]{{1,40}})\] "(?P<request>{_QUOTED})" (?P<status>\d{{3}}) \S+'
    rf'(?: "(?P<referrer>{_QUOTED})" "(?P<ua>{_QUOTED})")?'
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}
_CLF_TIME = re.compile(r"(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")


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


parse_clf_time: Callable[[str], datetime | None] = _by_minute(_parse_clf_time)
"""`10/Oct/2026:13:55:36 +0200` (the access-log time) as UTC; None when it is not one."""


def parse_combined(
    raw: bytes, *, pixel_path: str = "/p.gif", max_bytes: int = 8192, token_param: str = TOKEN_PARAM
) -> Hit | Reason:
    """One access-log line; only successful GETs of `pixel_path` are hits (u=page, r=referrer, v, t)."""
    return combined_parser(pixel_path=pixel_path, max_bytes=max_bytes, token_param=token_param)(raw)


def combined_parser(
    *, pixel_path: str = "/p.gif", max_bytes: int = 8192, token_param: str = TOKEN_PARAM
) -> Callable[[bytes], Hit | Reason]:
    """`parse_combined` with its settings bound: a plain call per line, no keyword handling."""
    quick_query = _query_cutter(pixel_path)

    def parse(raw: bytes) -> Hit | Reason:
        text = _text(raw, max_bytes)
        if isinstance(text, Reason):
            return text
        fields = _usual_combined(text) or _combined_groups(text)
        if fields is None:
            return Reason.MALFORMED
        ip, when, request, status, referrer_header, agent = fields
        query = quick_query(request)
        if query is None:
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


def _combined_groups(text: str) -> tuple[str, str, str, str, str, str] | None:
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
