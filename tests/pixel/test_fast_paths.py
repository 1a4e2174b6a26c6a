"""The parsers' fast paths give exactly the answers of the general code they shortcut."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.pixel.hits import _COMBINED, _combined_fields
from tests.pixel.test_fuzz import near_valid

# Pieces of access-log lines, with the characters the shortcut must be careful about.
PIECE = st.text(alphabet=st.sampled_from(list("ab1 \\[]-\t\xa0/:+٣")), max_size=8)
QUOTED = st.text(alphabet=st.sampled_from(list('a "\\')), max_size=4)


@st.composite
def combined_like(draw: st.DrawFn) -> str:
    """Lines shaped like `ip - - [time] "request" status bytes "referrer" "agent"`, pieces drawn."""

    def either(*plain: str) -> str:  # mostly a plain value, sometimes a drawn piece
        return draw(st.sampled_from(plain) | PIECE)

    ip, ident, size, gap = either("203.0.113.9"), either("-"), either("43"), either(" ")
    when = either("02/Mar/2026:10:00:00 +0100")
    status = either("200", "304", "٢٠٠")
    request, referrer, agent = (draw(PIECE) for _ in range(3))
    tail = draw(QUOTED)
    return f'{ip} {ident} - [{when}] "{request}" {status} {size} "{referrer}"{gap}"{agent}"{tail}'


def _regex_answer(text: str) -> tuple[str, ...] | None:
    match = _COMBINED.match(text)
    if match is None:
        return None
    ip, when, request, status, referrer, agent = match.groups()
    unescape = lambda part: (part or "").replace('\\"', '"')  # noqa: E731
    return ip, when, request, status, unescape(referrer), unescape(agent)


@settings(max_examples=1000, deadline=None)
@given(combined_like() | near_valid().map(lambda raw: raw.decode("utf-8", "replace").strip()))
def test_combined_fields_are_the_regex_groups(text: str) -> None:
    assert _combined_fields(text) == _regex_answer(text)


def test_the_plain_shape_takes_the_fast_path_with_the_same_groups() -> None:
    text = '203.0.113.9 - - [02/Mar/2026:10:00:00 +0100] "GET /p.gif?v=1 HTTP/1.1" 200 43 "-" "Mozilla/5.0"'
    assert _combined_fields(text) == _regex_answer(text)
    assert _combined_fields(text) == (
        "203.0.113.9",
        "02/Mar/2026:10:00:00 +0100",
        "GET /p.gif?v=1 HTTP/1.1",
        "200",
        "-",
        "Mozilla/5.0",
    )
