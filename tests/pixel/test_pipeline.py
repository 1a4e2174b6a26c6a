"""The pipeline's parse step: a line that makes a parser raise is rejected and the lines after it are read."""

from __future__ import annotations

import json

import pytest

from connector.config.pixel import LogFormat
from connector.pixel.hits import Reason
from connector.pixel.pipeline import Counts, Crash, parse_items, parse_lines
from tests.pixel.helpers import BROWSER, POISON_IP, hit, poison_parsers, settings


def line(fmt: LogFormat, minute: int, ip: str = "192.0.2.7") -> bytes:
    if fmt == "ndjson":
        return json.dumps(hit(minute, ip=ip)).encode()
    if fmt == "csv":
        return f'2026-03-02T09:{minute:02d}:00Z,https://site.nl/,,"{BROWSER}",{ip},v-1,'.encode()
    when = f"02/Mar/2026:10:{minute:02d}:00 +0100"
    return f'{ip} - - [{when}] "GET /p.gif?u=%2Fa&v=v-1 HTTP/1.1" 200 43 "-" "{BROWSER}"'.encode()


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "combined"])
def test_a_line_that_makes_the_parser_raise_is_rejected_and_passed(
    fmt: LogFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison_parsers(monkeypatch)
    lines = [b"", line(fmt, 1), line(fmt, 2, POISON_IP), line(fmt, 3), line(fmt, 4, POISON_IP), line(fmt, 5)]
    counts, crashes = Counts(lines=len(lines)), list[Crash]()
    header = b"time,url,referrer,user_agent,ip,visitor_id,token"
    hits = parse_lines(lines, fmt, settings(), counts, header, crashes)
    assert [h.at.minute for h in hits] == [1, 3, 5]
    assert counts.rejected == {Reason.NOT_A_HIT: 1, Reason.PARSER_CRASH: 2}
    assert [c.index for c in crashes] == [2, 4]
    assert crashes[0].error == "OverflowError: a parser bug"


def test_a_provider_item_that_makes_the_parser_raise_is_rejected_and_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    poison_parsers(monkeypatch)
    items = [hit(1), None, hit(2, ip=POISON_IP), hit(3)]
    counts = Counts(lines=len(items))
    hits = parse_items(items, settings(), counts)
    assert [h.at.minute for h in hits] == [1, 3]
    assert counts.rejected == {Reason.MALFORMED: 1, Reason.PARSER_CRASH: 1}
