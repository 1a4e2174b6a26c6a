"""Windowed reads and change detection, against a state-based fake and (for paging) responses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from connector.errors import QueryLocatorError, QueryTimeoutError
from connector.sf.client import SalesforceClient
from connector.sf.readers import (
    Record,
    Source,
    Window,
    backfill_windows,
    plan_window,
    read_window,
    slice_window,
    window_soql,
)
from connector.sync.changes import detect_changes
from tests.sf.conftest import BASE, INSTANCE, NOW

T0 = datetime(2026, 3, 1, tzinfo=UTC)
LOOK, LAG = timedelta(seconds=600), timedelta(seconds=60)
SOURCE = Source("msf__Job_Application__c", ("msf__Candidate__c", "msf__Step__c"))


class FakeOrg:
    """Answers window queries from a list of records; can fail the first queries with given errors."""

    def __init__(self, records: list[Record], failures: list[Exception] | None = None, rows: int = 0) -> None:
        self.records = records
        self.failures = failures or []
        self.queries: list[str] = []
        self.rows = rows

    def query_pages(self, soql: str, *, include_deleted: bool = True) -> Iterator[list[Record]]:
        self.queries.append(soql)
        start, end = _bounds(soql)
        hits = [r for r in self.records if start <= r["SystemModstamp"] < end]
        yield hits[:2]
        if self.failures:
            raise self.failures.pop(0)
        yield hits[2:]

    def count(self, soql: str) -> int:
        self.queries.append(soql)
        return self.rows


def _bounds(soql: str) -> tuple[datetime, datetime]:
    after = soql.split("SystemModstamp >= ")[1]
    start = datetime.fromisoformat(after.split(" ")[0])
    end = datetime.fromisoformat(after.split("SystemModstamp < ")[1].split(" ")[0])
    return start, end


def rec(i: int, at: datetime, step: str = "Match") -> Record:
    """An application record."""
    return {"Id": f"a0C{i:012d}", "SystemModstamp": at, "IsDeleted": False, "msf__Step__c": step}


def test_window_is_cursor_minus_lookback_to_now_minus_lag() -> None:
    window = plan_window(T0, NOW, lookback=timedelta(seconds=600), lag=timedelta(seconds=60))
    assert window == Window(T0 - timedelta(seconds=600), NOW - timedelta(seconds=60))


def test_window_never_ends_before_the_cursor() -> None:
    window = plan_window(NOW, NOW, lookback=timedelta(seconds=600), lag=timedelta(seconds=60))
    assert window.end == NOW


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_window(datetime(2026, 1, 1), NOW, lookback=timedelta(0), lag=timedelta(0))  # noqa: DTZ001


def test_soql_is_an_ordered_queryall_window_with_utc_literals() -> None:
    soql = window_soql(SOURCE, Window(T0, T0 + timedelta(hours=1)))
    assert soql == (
        "SELECT Id, SystemModstamp, IsDeleted, msf__Candidate__c, msf__Step__c FROM msf__Job_Application__c "
        "WHERE SystemModstamp >= 2026-03-01T00:00:00+00:00 AND SystemModstamp < 2026-03-01T01:00:00+00:00 "
        "ORDER BY SystemModstamp, Id"
    )


def test_query_timeout_halves_the_window_and_reads_everything() -> None:
    records = [rec(i, T0 + timedelta(minutes=i)) for i in range(10)]
    org = FakeOrg(records, [QueryTimeoutError("QUERY_TIMEOUT")])
    got = list(read_window(org, SOURCE, Window(T0, T0 + timedelta(hours=1))))
    assert [r["Id"] for r in got] == [r["Id"] for r in records]
    assert len(org.queries) == 3  # the failed one, then its two halves


def test_invalid_query_locator_restarts_from_the_window_start_without_duplicates() -> None:
    records = [rec(i, T0 + timedelta(minutes=i)) for i in range(5)]
    org = FakeOrg(records, [QueryLocatorError("INVALID_QUERY_LOCATOR")])
    got = list(read_window(org, SOURCE, Window(T0, T0 + timedelta(hours=1))))
    assert [r["Id"] for r in got] == [r["Id"] for r in records]
    assert _bounds(org.queries[1]) == (T0, T0 + timedelta(hours=1))


def test_backfill_slices_by_day_only_when_count_is_large() -> None:
    days = Window(T0, T0 + timedelta(days=3, hours=5))
    assert slice_window(days, 10_000) == [days]
    slices = slice_window(days, 10_001)
    assert len(slices) == 4
    assert all(s.end - s.start <= timedelta(days=1) for s in slices)
    assert slices[0].start == days.start
    assert slices[-1].end == days.end
    assert len(backfill_windows(FakeOrg([], rows=50_000), SOURCE, days.start, days.end)) == 4


def test_a_re_read_record_with_the_same_watched_values_is_no_change() -> None:
    first = detect_changes([rec(1, T0, "Intake verwerkt")], {}, ["msf__Step__c"])
    assert len(first.changed) == 1
    # SystemModstamp moved (our own write-back, a system update) but the watched fields did not.
    again = detect_changes(
        [rec(1, T0 + timedelta(minutes=5), "Intake verwerkt")], first.hashes, ["msf__Step__c"]
    )
    assert again.changed == []
    assert again.hashes == {}
    moved = detect_changes([rec(1, T0 + timedelta(minutes=9), "Voorgesteld")], first.hashes, ["msf__Step__c"])
    assert len(moved.changed) == 1


@given(st.lists(st.sampled_from(["Match", "Intake verwerkt", "Voorgesteld"]), min_size=1, max_size=8))
def test_re_reading_a_window_yields_no_second_change(steps: list[str]) -> None:
    batch = [rec(i, T0 + timedelta(seconds=i), step) for i, step in enumerate(steps)]
    first = detect_changes(batch, {}, ["msf__Step__c"])
    assert len(first.changed) == len(batch)
    assert detect_changes(batch, first.hashes, ["msf__Step__c"]).changed == []


def test_pages_are_followed_by_next_records_url(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    def page(n: int, done: bool) -> dict[str, Any]:
        records = [{"attributes": {"type": "X"}, "Id": f"{n}-{i}", "SystemModstamp": "s"} for i in range(3)]
        more = {} if done else {"nextRecordsUrl": f"/services/data/v62.0/query/01g-{(n + 1) * 3}"}
        return {"done": done, "totalSize": 9, "records": records, **more}

    rsps.get(BASE + "queryAll/", json=page(0, False))
    rsps.get(INSTANCE + "/services/data/v62.0/query/01g-3", json=page(1, False))
    rsps.get(INSTANCE + "/services/data/v62.0/query/01g-6", json=page(2, True))
    got = list(read_window(client, SOURCE, Window(T0, T0 + timedelta(hours=1))))
    assert [r["Id"] for r in got] == [f"{n}-{i}" for n in range(3) for i in range(3)]
    assert "attributes" not in got[0]
    sent = parse_qs(urlparse(rsps.calls[1].request.url).query)["q"][0]
    assert sent.startswith("SELECT Id, SystemModstamp, IsDeleted")


def test_a_planned_window_reads_only_records_older_than_the_lag() -> None:
    records = [rec(1, NOW - timedelta(minutes=5)), rec(2, NOW - timedelta(seconds=30))]
    window = plan_window(NOW - timedelta(minutes=2), NOW, lookback=LOOK, lag=LAG)
    got = list(read_window(FakeOrg(records), SOURCE, window))
    assert window.end == NOW - LAG
    assert [r["Id"] for r in got] == [records[0]["Id"]]  # the 30 s old one waits for the lag
