"""CSV hit lines: a header line naming our fields, then one hit a line."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from operator import itemgetter

from connector.pixel._fast import _plain_csv_row
from connector.pixel.hits import FIELDS, TOKEN_PARAM, Hit, Reason, _text, _url_ok, make_hit, parse_hit_time


def csv_header(raw: bytes) -> tuple[str, ...]:
    """The column names of a CSV header line (lower-cased); () when it is not readable."""
    try:
        row = next(csv.reader([raw.decode("utf-8-sig").strip()]), [])
    except (UnicodeDecodeError, csv.Error):
        return ()
    return tuple(name.strip().lower() for name in row)


class _OneLine:
    """The input of a long-lived csv reader: the line put in `line`, then the end of the input."""

    __slots__ = ("line",)

    def __init__(self) -> None:
        self.line: str | None = None

    def __iter__(self) -> _OneLine:
        return self

    def __next__(self) -> str:
        line, self.line = self.line, None
        if line is None:
            raise StopIteration
        return line


def csv_parser(
    header: Sequence[str], *, max_bytes: int = 8192, token_param: str = TOKEN_PARAM
) -> Callable[[bytes], Hit | Reason]:
    """`parse_csv` for the lines of one file: one csv reader serves them all (not one per line)."""
    # Each line reaches the reader as a one-line input, as csv.reader([text]) gives it: a quote left
    # open ends with the line, and an error ends only that line (the reader resets per record).
    # A parser belongs to one caller; its reader is not shared between threads.
    feed = _OneLine()
    reader = csv.reader(feed)
    names = tuple(header)
    first_name = names[0] if names else ""
    column = {name: i for i, name in enumerate(names)}  # a repeated name: its last column
    # A field without a column reads index -1: the '' appended to every row.
    at_col, url_col, *other_cols = (column.get(name, -1) for name in FIELDS)
    others = itemgetter(*other_cols)
    width = len(names)

    def parse(raw: bytes) -> Hit | Reason:
        text = _text(raw, max_bytes)
        if isinstance(text, Reason):
            return text
        row = _plain_csv_row(text)
        if row is None:
            feed.line = text
            try:
                row = next(reader, [])
            except csv.Error:
                return Reason.MALFORMED
        if len(row) != width:
            return Reason.MALFORMED
        # The header again (a file appended to by several writers); the first cell rules most lines out.
        if not row or (
            row[0].strip().lower() == first_name and tuple(c.strip().lower() for c in row) == names
        ):
            return Reason.NOT_A_HIT
        # hit_from_mapping(dict(zip(names, row))) written out for rows: every cell is a str, so the
        # type checks always pass, and a field's value is its last column (as in the dict).
        row.append("")
        raw_time, url = row[at_col], row[url_col]
        if not raw_time or not url:
            return Reason.MISSING_FIELD
        at = parse_hit_time(raw_time)
        if at is None:
            return Reason.BAD_TIME if _url_ok(url) else Reason.MALFORMED
        referrer, agent, ip, visitor, token = others(row)
        return make_hit(at, url, referrer, agent, ip, visitor, token, token_param)

    return parse


def parse_csv(
    raw: bytes, *, header: Sequence[str], max_bytes: int = 8192, token_param: str = TOKEN_PARAM
) -> Hit | Reason:
    """One CSV data line, read with the file's header (a repeated header line is not a hit)."""
    return csv_parser(header, max_bytes=max_bytes, token_param=token_param)(raw)
