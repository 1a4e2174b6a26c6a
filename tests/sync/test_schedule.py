"""When a starting daemon runs the nightly pass it missed."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from connector.sync.schedule import missed_daily_pass

AMS = ZoneInfo("Europe/Amsterdam")
AT = time(2, 0)


def utc(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_a_pass_due_while_the_daemon_was_down_is_run_at_start_up() -> None:
    # Down from the 2nd 20:00 UTC to the 3rd 09:00 UTC: the 02:00 Amsterdam pass of the 3rd was missed.
    assert missed_daily_pass(utc(3, 9), AT, AMS, last_daily=utc(2, 1), last_cycle=utc(2, 20))


def test_no_catch_up_when_the_last_pass_ran_or_the_ledger_is_fresh() -> None:
    assert not missed_daily_pass(utc(3, 9), AT, AMS, last_daily=utc(3, 1), last_cycle=utc(3, 8))
    assert not missed_daily_pass(
        utc(3, 0), AT, AMS, last_daily=utc(2, 1), last_cycle=utc(2, 20)
    )  # 01:00 local
    assert not missed_daily_pass(utc(3, 9), AT, AMS, last_daily=None, last_cycle=None)


def test_a_ledger_that_never_ran_a_pass_catches_up_once_one_was_due() -> None:
    assert missed_daily_pass(utc(4, 9), AT, AMS, last_daily=None, last_cycle=utc(2, 20))
