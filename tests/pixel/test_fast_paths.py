"""The parsers' fast paths give exactly the answers of the general code they shortcut."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from hypothesis import example, given, settings
from hypothesis import strategies as st

from connector.pixel._fast import _PLAIN_BASE, _pixel_query, _plain_csv_row, forget_remembered
from connector.pixel.hits import (
    TOKEN_PARAM,
    Hit,
    Reason,
    _text,
    _truncate,
    make_hit,
    split_token,
    truncate_ip,
)
from connector.pixel.hits_combined import _COMBINED, _parse_clf_time, parse_clf_time, parse_combined
from connector.pixel.identity import Attribution, Keyring, PendingHit, _walk, attribute
from tests.pixel.helpers import SECRET, T0, token
from tests.pixel.test_fuzz import near_valid

# Pieces of access-log lines, with the characters the shortcut must be careful about.
PIECE = st.text(alphabet=st.sampled_from(list("ab1 \\[]-\t\xa0/:+٣")), max_size=8)
QUOTED = st.text(alphabet=st.sampled_from(list('a "\\')), max_size=4)


@st.composite
def combined_like(draw: st.DrawFn) -> str:
    """Lines shaped like `ip - - [time] "request" status bytes "referrer" "agent"`, pieces drawn."""

    def either(*plain: str) -> str:  # mostly (7 in 8) a plain value, else a drawn piece
        return draw(PIECE) if draw(st.integers(0, 7)) == 0 else draw(st.sampled_from(plain))

    ip, ident, size, gap = either("203.0.113.9"), either("-"), either("43"), either(" ")
    when = either("02/Mar/2026:10:00:00 +0100")
    status = either("200", "304", "٢٠٠")
    request = either("GET /p.gif?u=https%3A%2F%2Fs.nl%2Fa&v=v1 HTTP/1.1", "GET /p.gif?v=v1 HTTP/1.1")
    referrer, agent = either("https://s.nl/r", "-"), draw(PIECE)
    tail = draw(QUOTED)
    return f'{ip} {ident} - [{when}] "{request}" {status} {size} "{referrer}"{gap}"{agent}"{tail}'


def _regex_answer(text: str) -> tuple[str, ...] | None:
    match = _COMBINED.match(text)
    if match is None:
        return None
    ip, when, request, status, referrer, agent = match.groups()
    unescape = lambda part: (part or "").replace('\\"', '"')  # noqa: E731
    return ip, when, request, status, unescape(referrer), unescape(agent)


def _reference_combined(raw: bytes) -> Hit | Reason:
    """parse_combined without its shortcuts: the regex for every line, the general request cut."""
    text = _text(raw, 8192)
    if isinstance(text, Reason):
        return text
    fields = _regex_answer(text)
    if fields is None:
        return Reason.MALFORMED
    ip, when, request, status, referrer_header, agent = fields
    method, _, rest = request.partition(" ")
    target = rest.rsplit(" ", 1)[0] if " " in rest else rest
    path, _, query = target.partition("?")
    if method not in ("GET", "HEAD") or path != "/p.gif" or not "200" <= status < "400":
        return Reason.NOT_A_HIT
    at = parse_clf_time(when)
    if at is None:
        return Reason.BAD_TIME
    page, referrer, visitor, token = _pixel_query(query) if query else ("", "", "", "")
    page = page or (referrer_header if referrer_header != "-" else "")
    if not page:
        return Reason.MISSING_FIELD
    return make_hit(at, page, referrer, agent, ip, visitor, token, TOKEN_PARAM)


@settings(max_examples=1000, deadline=None)
@given(combined_like() | near_valid().map(lambda raw: raw.decode("utf-8", "replace")))
def test_combined_lines_parse_as_through_the_regex(text: str) -> None:
    assert parse_combined(text.encode()) == _reference_combined(text.encode())


def test_the_plain_shape_parses_to_the_hit_the_regex_gives() -> None:
    text = (
        '203.0.113.9 - - [02/Mar/2026:10:00:00 +0100] "GET /p.gif?v=1 HTTP/1.1" 200 43 "https://s.nl/" "Mo/5"'
    )
    parsed = parse_combined(text.encode())
    assert parsed == _reference_combined(text.encode())
    assert isinstance(parsed, Hit)
    assert (parsed.url, parsed.user_agent, parsed.ip, parsed.visitor_id) == (
        "https://s.nl/",
        "Mo/5",
        "203.0.113.0",
        "1",
    )


REQUEST_PIECE = st.text(alphabet=st.sampled_from(list("ab ?&=/")), max_size=6)


@st.composite
def requests(draw: st.DrawFn) -> str:
    method = draw(st.sampled_from(["GET", "HEAD", "POST"]) | REQUEST_PIECE)
    path = draw(st.sampled_from(["/p.gif", "/p.gifx", "/x/p.gif"]) | REQUEST_PIECE)
    query = draw(st.sampled_from(["?u=https%3A%2F%2Fs.nl%2Fa&v=v1", "?", ""]) | REQUEST_PIECE)
    protocol = draw(st.sampled_from([" HTTP/1.1", ""]) | REQUEST_PIECE)
    return f"{method} {path}{query}{protocol}"


@settings(max_examples=500, deadline=None)
@given(requests())
def test_the_request_shortcut_cuts_as_the_general_code(request: str) -> None:
    line = f'203.0.113.9 - - [02/Mar/2026:10:00:00 +0100] "{request}" 200 43 "https://s.nl/r" "Mozilla/5.0"'
    assert parse_combined(line.encode()) == _reference_combined(line.encode())


# Keys as the pixel writes them (an encoded key, `%75` for `u`, is none of the pixel's parameters).
QUERY_KEY = st.sampled_from(["u", "r", "v", "t", "x", "", "mt", "uu"])
QUERY_VALUE = st.lists(st.sampled_from([*"a=+/&", "%2F", "%", "%C3%A9", "é"]), max_size=5).map("".join)
QUERY = st.lists(
    st.tuples(QUERY_KEY, QUERY_VALUE, st.booleans()).map(lambda p: f"{p[0]}={p[1]}" if p[2] else p[0]),
    max_size=6,
).map("&".join)


@settings(max_examples=1000, deadline=None)
@given(QUERY)
@example("u=https%3A%2F%2Fs.nl%2Fa&v=v1&u=%2Fb+c&t")
def test_the_pixel_query_gives_the_last_values_parse_qsl_gives(query: str) -> None:
    last = dict(parse_qsl(query, keep_blank_values=True))
    assert _pixel_query(query) == tuple(last.get(key, "") for key in "urvt")


ADDRESS = st.text(alphabet=st.sampled_from(list("0129.:af%٣ ")), max_size=20)


@settings(max_examples=800, deadline=None)
@given(st.lists(ADDRESS, min_size=1, max_size=6))
def test_truncating_with_remembered_networks_answers_as_the_plain_truncation(texts: list[str]) -> None:
    forget_remembered()
    for text in texts + texts[::-1] + ["203.0.113." + t for t in texts]:  # remembered, then asked again
        assert truncate_ip(text) == _truncate(text)


def _reference_attribute(  # the attribution before the short cut for visitors who cannot be credited
    hits: list[Hit], waiting: list[PendingHit], links: dict[str, str], shared: set[str], now: datetime
) -> Attribution:
    out = Attribution(links=dict(links), shared=set(shared))
    per_visitor: dict[str, list[tuple[Hit, bool, str]]] = {
        visitor: [] for visitor in dict.fromkeys([hit.visitor_id for hit in hits])
    }
    for hit in sorted(hits, key=lambda h: h.at):
        per_visitor[hit.visitor_id].append((hit, True, ""))
    with_pending: set[str] = set()
    for pending in waiting:
        per_visitor.setdefault(pending.hit.visitor_id, []).append((pending.hit, False, pending.known_id))
        with_pending.add(pending.hit.visitor_id)
    for visitor, items in per_visitor.items():
        if visitor in with_pending:
            items.sort(key=lambda item: item[0].at)
        _walk(out, visitor, items, Keyring((KEY,)), WINDOW, now - WINDOW)
    return out


KEY, WINDOW = SECRET.encode(), timedelta(days=2)
VISITORS = st.sampled_from(["", "v1", "v2", "v3", "v4"])
TOKENS = st.sampled_from(["", "", "", token("003A"), token("003B"), "003A.forged"])


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[Hit], list[PendingHit], dict[str, str], set[str]]:
    def a_hit() -> Hit:
        minutes = draw(st.integers(0, 6 * 24 * 60))
        return Hit(
            T0 + timedelta(minutes=minutes), f"/p{minutes}", visitor_id=draw(VISITORS), token=draw(TOKENS)
        )

    hits = [a_hit() for _ in range(draw(st.integers(0, 12)))]
    waiting = [PendingHit(f"id{i}", "", a_hit()._replace(token="")) for i in range(draw(st.integers(0, 5)))]
    links = draw(st.dictionaries(VISITORS.filter(bool), st.sampled_from(["003A", "003C"]), max_size=2))
    shared = draw(st.sets(VISITORS.filter(bool), max_size=1))
    return hits, waiting, links, shared


def _as_sets(out: Attribution) -> tuple[object, ...]:
    return (
        sorted(out.credited, key=repr),
        sorted(out.waiting, key=repr),
        out.links,
        out.shared,
        +out.rejected,
        out.waiting_new,
        out.expired,
        sorted(out.newly_shared),
    )


@settings(max_examples=400, deadline=None)
@given(runs())
def test_attribution_with_the_short_cut_decides_as_the_walk_over_every_visitor(
    run: tuple[list[Hit], list[PendingHit], dict[str, str], set[str]],
) -> None:
    hits, waiting, links, shared = run
    now = T0 + timedelta(days=6)
    found = attribute(hits, waiting, links, shared, secret=KEY, now=now, window=WINDOW)
    assert _as_sets(found) == _as_sets(_reference_attribute(hits, waiting, links, shared, now))


def _reference_split_token(url: str, param: str) -> tuple[str, str]:  # split_token without its shortcut
    if f"{param}=" not in url:
        return url, ""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    token = next((v for k, v in pairs if k == param), "")
    rest = urlencode([(k, v) for k, v in pairs if k != param])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), token


URL_PIECE = st.lists(st.sampled_from([*"aZ09/.:%+ &#?=-[]\t", "%2F", "mt=", "//"]), max_size=6).map("".join)
URLS = st.tuples(
    st.sampled_from(["https://", "http://", "HTTPS://", "/", "//", ""]),
    st.sampled_from(["www.site.nl", "site.nl:8080", "[::1]", ""]) | URL_PIECE,
    st.sampled_from(["/", "/vacatures/a0B1", "", "//x"]) | URL_PIECE,
    st.sampled_from(["?mt=003A.sig", "?mt=", "?mt=a%2Bb+c", "?x=1&mt=2", "?mt=1#frag"]) | URL_PIECE,
).map("".join)


def _outcome(cut: Callable[[str, str], tuple[str, str]], url: str) -> tuple[str, str] | str:
    try:
        return cut(url, "mt")
    except ValueError:  # urlsplit refuses some netlocs; the shortcut must not answer those either
        return "refused"


@settings(max_examples=1000, deadline=None)
@given(URLS)
@example("https://www.site.nl/?mt=1#frag")
@example("https://www.site.nl/a?mt=1&x=2")
@example("//?mt=003A.sig")
def test_token_cut_with_the_shortcut_is_the_url_library_cut(url: str) -> None:
    assert _outcome(split_token, url) == _outcome(_reference_split_token, url)


def test_a_landing_page_with_only_the_token_takes_the_shortcut() -> None:
    assert split_token("https://www.site.nl/vacatures/a0B1?mt=003A.s-g_", "mt") == (
        "https://www.site.nl/vacatures/a0B1",
        "003A.s-g_",
    )
    assert _PLAIN_BASE.fullmatch("https://www.site.nl/vacatures/a0B1")


CLF_TIME = st.tuples(
    st.sampled_from(["02/Mar/2026:10:00:", "31/Dec/2099:23:59:", "01/Jan/2000:00:00:", "02/Mar/2026:10:0"]),
    st.sampled_from(["00", "07", "59", "60", "99", "5x", "٣٣", "7"]),
    st.sampled_from([" +0000", " -0130", " +2359", " *0100", ""]),
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(CLF_TIME, min_size=1, max_size=6))
def test_access_log_times_through_the_minute_cache_are_the_full_parse(texts: list[str]) -> None:
    forget_remembered()
    for text in texts + texts:  # the second round answers from the cache
        assert parse_clf_time(text) == _parse_clf_time(text)


CSV_CHARS = st.sampled_from(list('a,,"" \r\n\x00é'))
CELL = st.text(alphabet=st.sampled_from(list("a, é")), max_size=4)
# Cells plain, quoted, with a quote inside, with text after the closing quote, or any characters.
ODD_CELL = st.tuples(CELL, CELL).map(lambda pair: '{}"{}"'.format(*pair)) | st.tuples(CELL, CELL).map(
    lambda pair: '"{}"{}'.format(*pair)
)
ANY_CELL = CELL | CELL.map(lambda cell: f'"{cell}"') | ODD_CELL | st.text(alphabet=CSV_CHARS, max_size=4)
CSV_TEXT = st.text(alphabet=CSV_CHARS, min_size=1, max_size=16) | st.lists(
    ANY_CELL, min_size=1, max_size=5
).map(",".join).filter(bool)


def _reader_row(text: str) -> list[str] | None:
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        return None


@settings(max_examples=1500, deadline=None)
@given(CSV_TEXT)
def test_plain_csv_rows_are_the_rows_the_csv_reader_gives(text: str) -> None:
    row = _plain_csv_row(text)
    if row is not None:
        assert row == _reader_row(text)


def test_usual_csv_lines_take_the_plain_path() -> None:
    usual = '2026-03-02T09:00:00Z,https://s.nl/,,"Mozilla/5.0 (X, Y)",1.2.3.4,v-1,'
    for text in ["a,b,,c", usual, '"a","b"']:
        assert _plain_csv_row(text) == _reader_row(text)
    assert _plain_csv_row('a,"b""c"') is None  # a doubled quote: the reader's business
    assert _plain_csv_row('a,b"c",d') is None  # a quote inside an unquoted cell
    long = "x" * (csv.field_size_limit() + 1)
    assert _reader_row(f"a,{long}") is None  # the reader refuses such a cell...
    assert _plain_csv_row(f"a,{long}") is None  # ...so the shortcut leaves it to the reader
