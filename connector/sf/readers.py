"""Windowed incremental reads and change detection: SOQL in, plain dict records out.

A poll reads `queryAll` over `[cursor - lookback, now - lag)` ordered by `SystemModstamp, Id` and paged
by `nextRecordsUrl` (never by timestamp `LIMIT`, which loops on ties). The caller commits the window's
upper bound as the new cursor together with what it derived. `now` is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from simple_salesforce.format import format_soql

from connector.errors import QueryLocatorError, QueryTimeoutError

log = structlog.get_logger(__name__)

Record = dict[str, Any]


class Page(list[Record]):
    """One page of a query's records, with the query's `totalSize` (all its pages; None if not told).

    A list to every reader; a progress display reads `total` to show how far a read has come.
    """

    total: int | None = None


# Above this many rows in a backfill range, read it in slices of at most one day.
BACKFILL_SLICE_ROWS = 10_000
BACKFILL_SLICE = timedelta(days=1)
# QUERY_TIMEOUT halves the window at most this often (1/64 of the window) before giving up.
MAX_SPLITS = 6
# INVALID_QUERY_LOCATOR restarts the window from its start at most this often.
MAX_RESTARTS = 3


class QueryPort(Protocol):
    """What the readers need from the client (a fake implements it in unit tests)."""

    def query_pages(
        self, soql: str, *, include_deleted: bool = True, bulk_above: int | None = None
    ) -> Iterator[list[Record]]:
        """Every page of a query (through a Bulk 2.0 query job when it holds more than `bulk_above` rows)."""
        ...

    def bulk_query_pages(self, soql: str, *, include_deleted: bool = True) -> Iterator[list[Record]]:
        """Every page of a Bulk 2.0 query job."""
        ...

    def count(self, soql: str) -> int:
        """totalSize of a COUNT() query."""
        ...


@dataclass(frozen=True)
class Window:
    """A half-open SystemModstamp range `[start, end)`, both aware UTC, whole seconds."""

    start: datetime
    end: datetime
    bulk: bool = False  # known to hold many rows: read through a Bulk 2.0 query job straight away

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Window bounds must be timezone-aware")

    def halves(self) -> tuple[Window, Window]:
        """Split at the (whole-second) middle; QUERY_TIMEOUT retries each half."""
        middle = _seconds(self.start + (self.end - self.start) / 2)
        return Window(self.start, middle), Window(middle, self.end)


@dataclass(frozen=True)
class Source:
    """A source object to poll and the fields to select (Id, SystemModstamp, IsDeleted are added)."""

    object: str
    fields: tuple[str, ...]
    where: str = ""  # an extra SOQL condition, already formatted with `format_soql`
    window_fields: tuple[str, ...] = ()  # datetime fields that also select a record by their value

    @property
    def selected(self) -> tuple[str, ...]:
        """The select list, without duplicates, in a stable order."""
        return tuple(dict.fromkeys(("Id", "SystemModstamp", "IsDeleted", *self.fields)))


def plan_window(cursor: datetime, now: datetime, *, lookback: timedelta, lag: timedelta) -> Window:
    """The next window: from `cursor - lookback` to `now - lag`, never ending before the cursor."""
    if cursor.tzinfo is None or now.tzinfo is None:
        raise ValueError("cursor and now must be timezone-aware")
    end = max(_seconds(now - lag), _seconds(cursor))
    return Window(_seconds(cursor - lookback), end)


def window_soql(source: Source, window: Window) -> str:
    """SOQL for one window, ordered by SystemModstamp then Id so ties page deterministically.

    A record is in the window when its SystemModstamp is, or the value of any `window_fields` is.
    """
    where = f" AND ({source.where})" if source.where else ""
    ranges = [
        format_soql("{:literal} >= {} AND {:literal} < {}", name, window.start, name, window.end)
        for name in ("SystemModstamp", *source.window_fields)
    ]
    when = ranges[0] if len(ranges) == 1 else "(" + " OR ".join(f"({r})" for r in ranges) + ")"
    return format_soql(
        "SELECT {:literal} FROM {:literal} WHERE {:literal}{:literal} ORDER BY SystemModstamp, Id",
        ", ".join(dict.fromkeys((*source.selected, *source.window_fields))),
        source.object,
        when,
        where,
    )


def read_window(
    client: QueryPort, source: Source, window: Window, *, bulk_above: int | None = None
) -> Iterator[Record]:
    """Every record of `source` modified in `window` (deleted ones too), each once.

    A window holding more than `bulk_above` rows (or marked `bulk`) is read through a Bulk 2.0 query
    job: the same SOQL, a few calls instead of one per 2,000 rows.
    """
    seen: set[tuple[Any, Any]] = set()
    for record in _read(client, source, window, splits=0, restarts=0, bulk_above=bulk_above):
        key = (record.get("Id"), record.get("SystemModstamp"))
        if key not in seen:  # a restart or split re-reads rows already yielded
            seen.add(key)
            yield record


def _read(
    client: QueryPort, source: Source, window: Window, *, splits: int, restarts: int, bulk_above: int | None
) -> Iterator[Record]:
    if window.end <= window.start:
        return
    soql = window_soql(source, window)
    try:
        if window.bulk:
            pages = client.bulk_query_pages(soql, include_deleted=True)
        elif bulk_above is None:
            pages = client.query_pages(soql, include_deleted=True)
        else:
            pages = client.query_pages(soql, include_deleted=True, bulk_above=bulk_above)
        for page in pages:
            yield from page
    except QueryTimeoutError:
        if splits >= MAX_SPLITS or window.end - window.start < timedelta(seconds=2):
            raise
        log.warning("sf_query_timeout_split", object=source.object, start=window.start, end=window.end)
        for half in window.halves():
            yield from _read(
                client, source, half, splits=splits + 1, restarts=restarts, bulk_above=bulk_above
            )
    except QueryLocatorError:
        if restarts >= MAX_RESTARTS:
            raise
        log.warning("sf_query_locator_restart", object=source.object, start=window.start)
        yield from _read(client, source, window, splits=splits, restarts=restarts + 1, bulk_above=bulk_above)


def backfill_windows(
    client: QueryPort, source: Source, start: datetime, end: datetime, *, bulk_above: int | None = None
) -> list[Window]:
    """Windows for a first load: one, or ≤ 1 day each when COUNT() shows more than 10,000 rows; one
    read through a Bulk 2.0 query job when it shows more than `bulk_above`."""
    whole = Window(_seconds(start), _seconds(end))
    where = f" AND ({source.where})" if source.where else ""
    rows = client.count(
        format_soql(
            "SELECT COUNT() FROM {:literal} WHERE SystemModstamp >= {} AND SystemModstamp < {}{:literal}",
            source.object,
            whole.start,
            whole.end,
            where,
        )
    )
    if bulk_above is not None and rows > bulk_above:
        return [Window(whole.start, whole.end, bulk=True)]
    return slice_window(whole, rows)


def slice_window(window: Window, rows: int) -> list[Window]:
    """Split a range into day slices when it holds more than BACKFILL_SLICE_ROWS rows."""
    if rows <= BACKFILL_SLICE_ROWS:
        return [window]
    slices, at = [], window.start
    while at < window.end:
        nxt = min(at + BACKFILL_SLICE, window.end)
        slices.append(Window(at, nxt))
        at = nxt
    return slices


def _seconds(at: datetime) -> datetime:
    # SOQL ignores sub-seconds and format_soql drops them: keep bounds exact so cursors round-trip.
    return at.replace(microsecond=0)
