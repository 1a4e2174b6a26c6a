"""Event ids: the fast path for plain texts must give the ids the general path always gave."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

from hypothesis import given
from hypothesis import strategies as st

from connector.events import derive_id, format_time, parse_time


def _reference(*parts: object) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@given(st.lists(st.text(max_size=40), max_size=5))
def test_ids_of_texts_are_those_of_the_json_form(parts: list[str]) -> None:
    assert derive_id(*parts) == _reference(*parts)


@given(st.lists(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=40), max_size=5))
def test_ids_of_ascii_texts_with_escapes_and_controls_are_unchanged(parts: list[str]) -> None:
    assert derive_id(*parts) == _reference(*parts)


class Kind(StrEnum):
    VISIT = "web.visit"


def test_ids_of_mixed_parts_are_unchanged() -> None:
    assert derive_id(Kind.VISIT, "x") == _reference(Kind.VISIT, "x")  # a str subclass
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert derive_id("a", 1, at, {"b": [2, None]}) == _reference("a", 1, at, {"b": [2, None]})
    assert derive_id('quote " and \\ slash /', "x") == _reference('quote " and \\ slash /', "x")


NAIVE_MIN, NAIVE_MAX = (datetime(year, 1, 1, tzinfo=UTC).replace(tzinfo=None) for year in (1900, 2200))


@given(st.datetimes(NAIVE_MIN, NAIVE_MAX, timezones=st.just(UTC)))
def test_utc_times_are_written_as_times_in_other_zones_are(at: datetime) -> None:
    elsewhere = at.astimezone(timezone(timedelta(hours=-3)))  # the general path, same moment
    assert format_time(at) == format_time(elsewhere)
    assert format_time(at).endswith("Z")
    assert parse_time(format_time(at)) == at
