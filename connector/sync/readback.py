"""What the org holds of the records the connector writes, against what the ledger confirmed. Pure.

The org is the truth the plan diffs against, with one exception: a read older than the connector's own
accepted write of a record shows the version from before that write (a query under commit lag), so it
never replaces what the write confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from connector.events import parse_time

Record = Mapping[str, Any]


def older_than_write(record: Record, written: datetime | None) -> bool:
    """Whether a read shows a version from before the connector's accepted write of its record.

    `written` is the start of the cycle whose write the org accepted: the write came at or after it,
    and row locks order the versions of one record, so a version stamped in an earlier second is
    older. SystemModstamp has whole seconds: a read from that same second may be a newer edit and
    counts as current (at worst one redundant write), never the other way round.
    """
    if written is None:
        return False
    try:
        stamp = parse_time(record.get("SystemModstamp"))
    except ValueError:
        return False  # without a stamp nothing says it is older: the org's value stands
    return stamp < written.replace(microsecond=0)


def current_reads(
    records: Iterable[Record], written: Mapping[str, datetime], key: str = "Id"
) -> tuple[list[Record], int]:
    """The reads not older than the accepted write of their record (by `key`), and how many were."""
    current: list[Record] = []
    older = 0
    for record in records:
        if older_than_write(record, written.get(str(record.get(key)))):
            older += 1
        else:
            current.append(record)
    return current, older
