"""Fuzzing every parser: no exception escapes, and every line is a hit or a counted reason."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.pixel.hits import Hit, Reason, hit_from_mapping
from connector.pixel.hits_combined import parse_combined
from connector.pixel.hits_csv import csv_header, parse_csv
from connector.pixel.hits_ndjson import parse_ndjson
from connector.pixel.pipeline import Counts, PixelState, Toolkit, parse_lines, process
from tests.pixel.helpers import BROWSER, T0, hit, token
from tests.pixel.helpers import settings as pixel_settings

HEADER = csv_header(b"time,url,referrer,user_agent,ip,visitor_id,token")
VALID = [
    json.dumps(hit(0, url=f"/vacatures/a0B5g000001AbCdEAF?mt={token('003A')}")).encode(),
    b'2026-03-02T09:00:00Z,https://site.nl/,,"' + BROWSER.encode() + b'",198.51.100.7,v-1,',
    b'203.0.113.9 - - [02/Mar/2026:10:00:00 +0100] "GET /p.gif?u=https%3A%2F%2Fs.nl%2F&v=vis-1 HTTP/1.1"'
    b" 200 43"
    b' "https://site.nl/" "' + BROWSER.encode() + b'"',
]


@st.composite
def near_valid(draw: st.DrawFn) -> bytes:
    """A valid line of some format with a few bytes flipped, cut, or spliced in."""
    line = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        at = draw(st.integers(0, max(len(line) - 1, 0)))
        if action == "flip" and line:
            line[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del line[at:]
        else:
            line[at:at] = draw(st.binary(max_size=8)) or b'"'
    return bytes(line)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
LINES = st.binary(max_size=300) | near_valid()


def parse_all(raw: bytes) -> list[Hit | Reason]:
    return [
        parse_ndjson(raw),
        parse_csv(raw, header=HEADER),
        parse_combined(raw),
        parse_csv(raw, header=csv_header(raw)),
    ]


@settings(max_examples=400, deadline=None)
@given(LINES)
def test_no_parser_raises_on_any_bytes(raw: bytes) -> None:
    for result in parse_all(raw):
        assert isinstance(result, Hit | Reason)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["time", "url", "ip", "visitor_id", "token", "x"]), JSON_VALUES))
def test_the_mapping_parser_takes_any_json_values(obj: dict[str, object]) -> None:
    assert isinstance(hit_from_mapping(obj), Hit | Reason)


# Texts with lone surrogates (json writes them as \uXXXX escapes) and integers beyond any float.
ODD_TEXT = st.text(st.characters(categories=["Cs"]) | st.sampled_from("/a:."), max_size=6)
ODD_VALUES = st.integers(min_value=-(10**400), max_value=10**400) | ODD_TEXT | st.floats()
HIT_FIELDS = st.sampled_from(["time", "url", "referrer", "user_agent", "ip", "visitor_id"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(HIT_FIELDS, ODD_VALUES))
def test_every_ndjson_hit_can_be_encoded_and_named(fields: dict[str, object]) -> None:
    base: dict[str, object] = {"time": "2026-03-02T09:00:00Z", "url": "/"}
    parsed = parse_ndjson(json.dumps(base | fields).encode())
    if isinstance(parsed, Hit):
        assert "".join(parsed[1:]).encode()
        assert parsed.id


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, max_size=40), st.sampled_from(["ndjson", "csv", "combined"]))
def test_every_line_is_credited_waiting_or_a_counted_rejection(lines: list[bytes], fmt: str) -> None:
    config = pixel_settings()
    counts = Counts(lines=len(lines))
    hits = parse_lines(lines, fmt, config, counts, b"time,url,referrer,user_agent,ip,visitor_id,token")  # type: ignore[arg-type]
    outcome = process(hits, counts, PixelState(), {"003A"}, Toolkit(config), T0 + timedelta(days=2))
    c = outcome.counts
    assert c.lines == c.credited + c.waiting + sum(c.rejected.values())
    assert all(e.contact_id == "003A" for e in outcome.events)
