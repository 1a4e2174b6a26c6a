"""Hits (one page view seen by a pixel), why a line is not one, and what the parsers of every format share.

A parser should never raise: it returns a `Hit` or the `Reason` the line was rejected for (a line
that makes one raise all the same is rejected by `pipeline.parse_lines` as `parser_crash`). IP addresses are
truncated here, before anything else sees them, and a contact token is moved out of the page URL into
`Hit.token`, so no stored URL carries one. The parsers per format are in `hits_ndjson`, `hits_csv` and
`hits_combined`; their shortcuts for the usual shapes of a line are in `_fast`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connector.pixel._fast import _landing_token, remembered, remembering

# forget_remembered is re-exported: callers ask the hits module for a cold start.
from connector.pixel._fast import forget_remembered as forget_remembered


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
    EXPIRED_TOKEN = "expired_token"  # noqa: S105 - a reason name, not a secret
    FOREIGN_HOST = "foreign_host"  # a page not on a configured site host
    OVER_CAP = "over_cap"  # a contact's visits or visitor ids of one day above the cap
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


# Dicts, not lru_caches: truncate_ip runs for every line, and was ~25% slower with them (see `remembering`).
_TRUNCATED: dict[str, str] = remembering({})  # other texts (IPv6 addresses, garbage) -> what they truncate to
_NETWORKS: dict[str, str] = remembering({})  # "a.b.c" -> what an address "a.b.c.N" truncates to
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


def split_token(url: str, param: str) -> tuple[str, str]:
    """Remove the `param` query parameter from `url`; return (url without it, its value or '')."""
    if f"{param}=" not in url:
        return url, ""
    landing = _landing_token(url, param)
    if landing is not None:
        return landing
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


@remembered(100_000)
def _valid_visitor(visitor: str) -> bool:
    # Visitor ids repeat line after line; remember the regex's answer (~0.4 us a line saved). An
    # lru_cache: it replaced a Python function that looked up a dict, and costs the same.
    return _VISITOR.fullmatch(visitor) is not None


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
