"""When the nightly pass is due: a decision on times only. Pure."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def last_pass_time(now: datetime, daily_at: time, zone: ZoneInfo) -> datetime:
    """The most recent scheduled nightly pass at or before `now` (local `daily_at` in `zone`)."""
    local = now.astimezone(zone)
    today = datetime.combine(local.date(), daily_at, tzinfo=zone)
    return (
        today if today <= local else datetime.combine(local.date() - timedelta(days=1), daily_at, tzinfo=zone)
    )


def missed_daily_pass(
    now: datetime, daily_at: time, zone: ZoneInfo, last_daily: datetime | None, last_cycle: datetime | None
) -> bool:
    """Whether a daemon starting at `now` should run the nightly pass first: one was due while it was down."""
    if last_cycle is None:  # a fresh ledger: the first cycle reads everything anyway
        return False
    due = last_pass_time(now, daily_at, zone)
    return (last_daily is None or last_daily < due) and last_cycle < due
