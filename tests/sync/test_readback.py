"""Pure read-back decisions: which reads of the org change what the plan diffs against."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.sync.readback import current_reads, older_than_write

WRITTEN = datetime(2026, 3, 2, 9, 0, 0, 700_000, tzinfo=UTC)  # a cycle's start, with microseconds


def read(modstamp: str, rid: str = "003A") -> dict[str, object]:
    return {"Id": rid, "SystemModstamp": modstamp}


def test_a_read_stamped_a_second_before_our_write_is_older() -> None:
    assert older_than_write(read("2026-03-02T08:59:59.000+0000"), WRITTEN)


def test_a_read_from_the_second_of_our_write_may_be_newer_and_counts() -> None:
    # SystemModstamp has whole seconds: 09:00:00 may be an edit made just after our write at 09:00:00.7.
    assert not older_than_write(read("2026-03-02T09:00:00.000+0000"), WRITTEN)
    assert not older_than_write(read("2026-03-02T09:00:01.000+0000"), WRITTEN)


def test_a_record_never_written_by_us_or_without_a_stamp_counts() -> None:
    assert not older_than_write(read("2020-01-01T00:00:00.000+0000"), None)
    assert not older_than_write({"Id": "003A"}, WRITTEN)


def test_current_reads_drop_only_records_older_than_their_own_write() -> None:
    records = [read("2026-03-02T08:00:00Z", "003A"), read("2026-03-02T08:00:00Z", "003B")]
    current, older = current_reads(records, {"003A": WRITTEN})
    assert ([r["Id"] for r in current], older) == (["003B"], 1)
