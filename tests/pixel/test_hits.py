"""Parsers: every line becomes a Hit or a counted reason; addresses truncated, tokens out of URLs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connector.pixel.hits import Hit, Reason, split_token, truncate_ip
from connector.pixel.hits_combined import parse_clf_time, parse_combined
from connector.pixel.hits_csv import csv_header, parse_csv
from connector.pixel.hits_ndjson import hit_from_json, parse_ndjson
from tests.pixel.helpers import BROWSER, hit

HEADER = csv_header(b"time,url,referrer,user_agent,ip,visitor_id,token")


def ndjson(**fields: object) -> bytes:
    return json.dumps(hit(**fields)).encode()  # type: ignore[arg-type]


def test_a_valid_ndjson_line_is_a_hit_with_a_truncated_address() -> None:
    parsed = parse_ndjson(ndjson())
    assert isinstance(parsed, Hit)
    assert parsed.at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert parsed.ip == "192.0.2.0"
    assert parsed.visitor_id == "visitor-1"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", Reason.MALFORMED),
        (b"[1, 2]", Reason.MALFORMED),
        (b"\xff\xfe{}", Reason.MALFORMED),
        (json.dumps(hit(url=42)).encode(), Reason.MALFORMED),
        (json.dumps(hit(url="javascript:alert(1)")).encode(), Reason.MALFORMED),
        (json.dumps(hit(url=None)).encode(), Reason.MISSING_FIELD),
        (json.dumps({"url": "/x"}).encode(), Reason.MISSING_FIELD),
        (json.dumps(hit(time="yesterday")).encode(), Reason.BAD_TIME),
        (json.dumps(hit(time="2026-03-02T09:00:00")).encode(), Reason.BAD_TIME),  # no zone
        (json.dumps(hit(time="1899-03-02T09:00:00Z")).encode(), Reason.BAD_TIME),
        (json.dumps(hit(time=1e300)).encode(), Reason.BAD_TIME),
        (json.dumps(hit(time=10**400)).encode(), Reason.BAD_TIME),  # no float holds it
        (json.dumps(hit(url="https://site.nl/\ud800")).encode(), Reason.MALFORMED),  # a lone surrogate
        (json.dumps(hit(referrer="\udfff")).encode(), Reason.MALFORMED),
        (b"x" * 9000, Reason.OVERSIZED),
        (b"   ", Reason.NOT_A_HIT),
    ],
)
def test_each_bad_ndjson_line_is_rejected_with_its_reason(raw: bytes, reason: Reason) -> None:
    assert parse_ndjson(raw) == reason


def test_a_lone_surrogate_in_a_field_the_hit_drops_anyway_does_not_spoil_the_hit() -> None:
    parsed = parse_ndjson(json.dumps(hit(visitor="\ud800", ip="\ud800")).encode())
    assert isinstance(parsed, Hit)
    assert (parsed.visitor_id, parsed.ip) == ("", "")
    assert len(parsed.id) == 32  # the id encodes every kept text


def test_provider_items_with_a_lone_surrogate_are_malformed() -> None:
    assert hit_from_json({"time": "2026-03-02T09:00:00Z", "url": "/\ud800"}) == Reason.MALFORMED
    assert isinstance(hit_from_json({"time": "2026-03-02T09:00:00Z", "url": "/\U0001f600"}), Hit)


def test_epoch_times_in_seconds_and_milliseconds_are_accepted() -> None:
    seconds = parse_ndjson(ndjson(time=1772442000))
    millis = parse_ndjson(ndjson(time=1772442000123))
    assert isinstance(seconds, Hit)
    assert isinstance(millis, Hit)
    assert seconds.at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert millis.at.microsecond == 123000


def test_a_token_in_the_page_url_moves_out_of_the_url() -> None:
    parsed = parse_ndjson(ndjson(url="https://site.nl/vacatures?x=1&mt=003AB.sig&y=2"))
    assert isinstance(parsed, Hit)
    assert parsed.token == "003AB.sig"
    assert parsed.url == "https://site.nl/vacatures?x=1&y=2"
    assert split_token("/a?b=1", "mt") == ("/a?b=1", "")


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("203.0.113.45", "203.0.113.0"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("fe80::1%eth0", "fe80::"),
        ("999.1.1.1", ""),
        ("not an address", ""),
        ("", ""),
    ],
)
def test_addresses_are_truncated_before_anything_keeps_them(address: str, kept: str) -> None:
    assert truncate_ip(address) == kept


def test_csv_lines_are_read_with_the_file_header() -> None:
    line = f'2026-03-02T09:00:00Z,https://site.nl/,,"{BROWSER}",198.51.100.7,v-1,'.encode()
    parsed = parse_csv(line, header=HEADER)
    assert isinstance(parsed, Hit)
    assert (parsed.ip, parsed.visitor_id, parsed.user_agent) == ("198.51.100.0", "v-1", BROWSER)
    assert parse_csv(b"time,url,referrer,user_agent,ip,visitor_id,token", header=HEADER) == Reason.NOT_A_HIT
    assert parse_csv(b"2026-03-02T09:00:00Z,https://site.nl/", header=HEADER) == Reason.MALFORMED
    assert parse_csv(b"soon,https://site.nl/,,,,,", header=HEADER) == Reason.BAD_TIME
    assert parse_csv(b",https://site.nl/,,,,,", header=HEADER) == Reason.MISSING_FIELD


def combined(
    request: str = "GET /p.gif?u=https%3A%2F%2Fsite.nl%2Fvacatures%2Fa0B5g000001AbCdEAF&v=vis-12345 HTTP/1.1",
    status: str = "200",
    when: str = "02/Mar/2026:10:00:00 +0100",
) -> bytes:
    return f'203.0.113.9 - - [{when}] "{request}" {status} 43 "https://site.nl/" "{BROWSER}"'.encode()


def test_a_combined_log_line_for_the_pixel_is_a_hit() -> None:
    parsed = parse_combined(combined())
    assert isinstance(parsed, Hit)
    assert parsed.at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert parsed.url == "https://site.nl/vacatures/a0B5g000001AbCdEAF"
    assert (parsed.visitor_id, parsed.ip, parsed.user_agent) == ("vis-12345", "203.0.113.0", BROWSER)


def test_combined_log_lines_that_are_not_pixel_hits_are_counted_apart() -> None:
    assert parse_combined(combined(request="GET /index.html HTTP/1.1")) == Reason.NOT_A_HIT
    assert parse_combined(combined(request="POST /p.gif HTTP/1.1")) == Reason.NOT_A_HIT
    assert parse_combined(combined(status="500")) == Reason.NOT_A_HIT
    assert parse_combined(combined(when="02/Foo/2026:10:00:00 +0100")) == Reason.BAD_TIME
    assert parse_combined(b"garbage line") == Reason.MALFORMED
    # No u= parameter: the Referer header is the page the image was on.
    parsed = parse_combined(combined(request="GET /p.gif?v=vis-12345 HTTP/1.1"))
    assert isinstance(parsed, Hit)
    assert parsed.url == "https://site.nl/"


def test_access_log_times_parse_with_their_offset() -> None:
    assert parse_clf_time("10/Oct/2026:13:55:36 -0700") == datetime(2026, 10, 10, 20, 55, 36, tzinfo=UTC)
    assert parse_clf_time("31/Feb/2026:13:55:36 -0700") is None
    assert parse_clf_time("10/Oct/2026:13:55:36") is None
