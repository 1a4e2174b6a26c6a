"""File source (offsets, rotation, truncation) and the provider API source (cursor paging)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from pydantic import SecretStr

from connector.config.pixel import PixelApi
from connector.errors import (
    FatalError,
    ProviderGarbageError,
    ProviderRefusedError,
    ProviderUnavailableError,
    RetriableError,
)
from connector.pixel.sources import FileMark, detect_format, fetch_pages, map_item, read_new_lines


def marks_after(*reads: object) -> dict[str, FileMark]:
    return {r.mark.key: r.mark for r in reads}  # type: ignore[attr-defined]


def test_only_new_complete_lines_are_read(tmp_path: Path) -> None:
    log = tmp_path / "hits.ndjson"
    log.write_bytes(b"one\ntwo\nthr")
    first = read_new_lines(log, {})
    assert (first.lines, first.status, first.incomplete) == ([b"one", b"two"], "new", True)
    with log.open("ab") as out:
        out.write(b"ee\nfour\n")
    second = read_new_lines(log, marks_after(first))
    assert (second.lines, second.status, second.incomplete) == ([b"three", b"four"], "appended", False)
    third = read_new_lines(log, marks_after(second))
    assert (third.lines, third.status) == ([], "unchanged")


def test_a_rotated_log_is_finished_and_its_successor_read_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"a\nb\n")
    marks = marks_after(read_new_lines(log, {}))
    with log.open("ab") as out:
        out.write(b"c\n")  # written just before rotation
    log.rename(tmp_path / "access.log.1")
    log.write_bytes(b"d\n")
    rotated = read_new_lines(tmp_path / "access.log.1", marks)
    fresh = read_new_lines(log, marks)
    assert (rotated.lines, rotated.status) == ([b"c"], "appended")
    assert (fresh.lines, fresh.status) == ([b"d"], "new")


def test_a_truncated_log_is_read_again_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"first line\nsecond line\n")
    marks = marks_after(read_new_lines(log, {}))
    with log.open("r+b") as out:  # copytruncate: same file, emptied, then written again
        out.truncate(0)
        out.write(b"x\n")
    again = read_new_lines(log, marks)
    assert (again.lines, again.status) == ([b"x"], "truncated")


def test_a_rewritten_log_of_the_same_size_is_noticed_by_its_head(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"aaaa\n")
    marks = marks_after(read_new_lines(log, {}))
    with log.open("r+b") as out:
        out.write(b"bbbb\ncc\n")
    again = read_new_lines(log, marks)
    assert (again.lines, again.status) == ([b"bbbb", b"cc"], "truncated")


def test_reads_stop_at_the_size_cap_on_a_line_boundary(tmp_path: Path) -> None:
    log = tmp_path / "hits.ndjson"
    log.write_bytes(b"12345\n" * 10)
    first = read_new_lines(log, {}, max_bytes=8)
    assert (first.lines, first.more) == ([b"12345", b"12345"], True)
    rest = read_new_lines(log, marks_after(first), max_bytes=1000)
    assert (len(rest.lines), rest.more) == (8, False)


def test_a_directory_or_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    (tmp_path / "hits.ndjson").mkdir()
    os.mkfifo(tmp_path / "pipe.ndjson")
    with pytest.raises(OSError, match=r"a folder, not a hit file: name the files in it \(.*hits.ndjson/\*\)"):
        read_new_lines(tmp_path / "hits.ndjson", {})
    with pytest.raises(OSError, match="not a regular file"):
        read_new_lines(tmp_path / "pipe.ndjson", {})


def test_a_file_of_an_unlisted_format_is_not_read_past_its_head(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_bytes(b"time,url\n2026-03-02T09:00:00Z,/a\n")
    read = read_new_lines(export, {}, formats=("ndjson",))
    assert (read.format, read.lines, read.mark.offset) == ("csv", [], 0)
    assert read_new_lines(export, {}, formats=("csv",)).lines == [b"time,url", b"2026-03-02T09:00:00Z,/a"]


@pytest.mark.parametrize(
    ("name", "first", "fmt"),
    [
        ("hits-2026-03-02.ndjson", b"", "ndjson"),
        ("hits.jsonl.2", b"", "ndjson"),
        ("export.csv", b"time,url", "csv"),
        ("access.log.1", b"", "combined"),
        ("whatever", b'{"time": 1}', "ndjson"),
        ("whatever", b"203.0.113.1 - -", "combined"),
    ],
)
def test_formats_are_recognised_by_name_then_content(name: str, first: bytes, fmt: str) -> None:
    assert detect_format(Path(name), first) == fmt


API = PixelApi(
    url="https://pixel.example.com/v1/hits",
    auth_value=SecretStr("Bearer s3cret"),
    field_map={"time": "ts", "url": "page", "visitor_id": "cid"},
)


@responses.activate
def test_the_api_source_follows_cursors_and_sends_the_auth_header() -> None:
    responses.get(
        API.url,
        match=[responses.matchers.query_param_matcher({"limit": "1000"})],
        json={"hits": [{"ts": "2026-03-02T09:00:00Z", "page": "/a", "cid": "v1"}], "next_cursor": "c1"},
    )
    responses.get(
        API.url,
        match=[responses.matchers.query_param_matcher({"limit": "1000", "cursor": "c1"})],
        json={"hits": [{"ts": "2026-03-02T09:01:00Z", "page": "/b"}, "junk"], "next_cursor": None},
    )
    pages = list(fetch_pages(requests.Session(), API, None))
    assert [p.cursor for p in pages] == ["c1", "c1"]
    assert pages[0].items[0] is not None
    assert pages[0].items[0]["url"] == "/a"
    assert pages[1].items[1] is None
    assert all(call.request.headers["Authorization"] == "Bearer s3cret" for call in responses.calls)


@responses.activate
@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        ({"status": 503}, ProviderUnavailableError, "HTTP 503, will retry"),
        ({"status": 429}, ProviderUnavailableError, "HTTP 429"),
        ({"body": requests.ConnectTimeout()}, ProviderUnavailableError, "ConnectTimeout"),
        ({"status": 401}, ProviderRefusedError, "HTTP 401: check"),
        ({"status": 403}, ProviderRefusedError, "HTTP 403"),
        ({"body": "<html>maintenance</html>"}, ProviderGarbageError, "not JSON"),
        ({"json": {"hits": "none"}}, ProviderGarbageError, "a list under 'hits'"),
    ],
)
def test_api_failures_are_classified_as_unavailable_refused_or_garbage(
    answer: dict[str, Any], error: type[Exception], message: str
) -> None:
    responses.get(API.url, **answer)
    with pytest.raises(error, match=message):
        list(fetch_pages(requests.Session(), API, "c9"))
    # Unavailable is retriable; refused and garbage need someone to look (the policy still skips them).
    assert issubclass(error, RetriableError) == (error is ProviderUnavailableError)
    assert issubclass(error, FatalError) == (error is not ProviderUnavailableError)


def test_provider_fields_are_mapped_to_ours() -> None:
    assert map_item({"ts": 1, "page": "/x", "ip": "1.2.3.4"}, API.field_map) == {
        "time": 1, "url": "/x", "referrer": None, "user_agent": None, "ip": "1.2.3.4",
        "visitor_id": None, "token": None,
    }  # fmt: skip
    assert map_item([1], API.field_map) is None
