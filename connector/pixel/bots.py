"""Robots out: known crawlers by user agent (the maintained crawlerdetect list) and implausible rates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from operator import attrgetter

from crawlerdetect import CrawlerDetect

from connector.pixel.hits import Hit


class CrawlerFilter:
    """Tells crawler user agents from browsers; remembers answers because logs repeat few agents."""

    def __init__(self, cache_size: int = 50_000) -> None:
        self._detect = detect = CrawlerDetect()

        # Per filter, and bounded: a flood of unique agents cannot grow memory. The verdict asks
        # `detect`, not self, so the cache holds no reference back to the filter.
        @lru_cache(maxsize=cache_size)
        def verdict(user_agent: str) -> bool:
            return not user_agent.strip() or bool(detect.is_crawler(user_agent))

        self._verdict = verdict

    def is_bot(self, user_agent: str) -> bool:
        """Whether this user agent is a crawler (an empty one is: every browser sends one)."""
        return self._verdict(user_agent)


def rate_key(hit: Hit) -> str:
    """Who a rate is counted for: the visitor cookie, else the (truncated) address and agent."""
    return hit.visitor_id or f"{hit.ip}|{hit.user_agent}"


def too_fast(hits: Iterable[Hit], max_per_minute: int) -> frozenset[str]:
    """Rate keys with more than `max_per_minute` hits in some calendar minute: scrapers, not people."""
    hits = hits if isinstance(hits, list) else list(hits)
    # A key with no more hits in the whole run than a minute allows cannot break the limit in any
    # minute: count per key first (at C speed for cookies), then look at minutes for the few left.
    totals = Counter(map(_VISITOR, hits))
    anonymous = totals.pop("", 0)
    busy = {key for key, count in totals.items() if count > max_per_minute}
    if not busy and anonymous <= max_per_minute:
        return frozenset()
    # rate_key written out: a function call per hit was a third of this loop's cost.
    per_minute = Counter(
        [
            (hit.visitor_id or f"{hit.ip}|{hit.user_agent}", int(hit.at.timestamp()) // 60)
            for hit in hits
            if hit.visitor_id in busy or not hit.visitor_id
        ]
    )
    return frozenset(key for (key, _), count in per_minute.items() if count > max_per_minute)


_VISITOR = attrgetter("visitor_id")
