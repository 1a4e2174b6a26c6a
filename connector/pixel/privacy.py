"""What of a hit may be kept: only the agency's own site, no query strings, the referrer as a host.

`minimise` runs on every hit before attribution (ingest and, for the same rules, the collector):

- a page whose host is not one of `[pixel] site_hosts` counts for nothing (`foreign_host`): a tracked
  link replayed on another site is not a visit of the candidate, and its URL never reaches the org;
- page URLs lose their query string but for `keep_query_params` (and always their fragment): a form
  that puts `?email=...` in the URL leaves no e-mail address behind;
- the referrer keeps its host only (`referrer = "host"`) or nothing (`"none"`): a referrer can carry
  someone else's query string, a contact token among them.

`sessions.sessionise` then bounds what one contact is credited with in a day (`DayCaps`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connector.config.pixel import PixelSettings
from connector.pixel.hits import Hit, Reason, _new_hit


class _Counted(Protocol):
    rejected: Counter[Reason]


def site_host(url: str) -> str | None:
    """The lower-case host (with a port when one is given) of an absolute http(s) URL; None otherwise."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    return f"{host}:{port}" if port is not None else host


def url_cleaner(keep: Iterable[str]) -> Callable[[str], str]:
    """A function that drops the fragment and every query parameter not in `keep` from a URL."""
    kept = frozenset(keep)

    @lru_cache(maxsize=100_000)
    def clean(url: str) -> str:
        if "?" not in url and "#" not in url:
            return url
        try:
            parts = urlsplit(url)
        except ValueError:
            return url.split("?", 1)[0].split("#", 1)[0]
        pairs = (
            [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k in kept] if kept else []
        )
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs), ""))

    return clean


def host_allowed(site_hosts: Iterable[str]) -> Callable[[str], bool]:
    """Whether a page URL is on one of `site_hosts` (every host counts when there are none)."""
    hosts = frozenset(site_hosts)

    @lru_cache(maxsize=100_000)
    def allowed(url: str) -> bool:
        if url.startswith("/"):
            return True  # a path-only URL (a combined log of the site itself) is on the site
        return not hosts or site_host(url) in hosts

    return allowed


@lru_cache(maxsize=100_000)
def referrer_host(referrer: str) -> str:
    """The host of a referrer URL, or '' when it has none."""
    return site_host(referrer) or ""


def minimise(hits: list[Hit], settings: PixelSettings, counts: _Counted) -> list[Hit]:
    """Hits on the site only, with page URLs and referrers cut down to what may be kept."""
    allowed, clean = _rules(settings)
    check_host = bool(settings.site_hosts)
    keep_referrer = settings.referrer == "host"
    out: list[Hit] = []
    foreign = 0
    for hit in hits:
        url, referrer = hit.url, hit.referrer
        if check_host and not allowed(url):
            foreign += 1
            continue
        if "?" in url or "#" in url:
            url = clean(url)
        if referrer:
            referrer = referrer_host(referrer) if keep_referrer else ""
        if url == hit.url and referrer == hit.referrer:
            out.append(hit)
        else:  # tuple.__new__, as the parsers build hits: half the cost of Hit._replace
            fields = (hit.at, url, referrer, hit.user_agent, hit.ip, hit.visitor_id, hit.token)
            out.append(_new_hit(Hit, fields))
    if foreign:
        counts.rejected[Reason.FOREIGN_HOST] += foreign
    return out


@lru_cache(maxsize=16)
def _rules_for(
    hosts: tuple[str, ...], keep: tuple[str, ...]
) -> tuple[Callable[[str], bool], Callable[[str], str]]:
    return host_allowed(hosts), url_cleaner(keep)


def _rules(settings: PixelSettings) -> tuple[Callable[[str], bool], Callable[[str], str]]:
    return _rules_for(settings.site_hosts, settings.keep_query_params)
