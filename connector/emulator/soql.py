"""A parser for the SOQL subset the connector uses; anything else is a `SoqlError`, never a guess.

Supported: `SELECT` fields (with parent paths) or `COUNT()`, `FROM`, `WHERE` with `AND` / `OR` / `NOT`
and parentheses (mixing `AND` and `OR` without parentheses is an error, as in Salesforce), the
comparison operators, `IN` / `NOT IN`, `LIKE`, literals (string, number, boolean, null, date, datetime,
`TODAY` / `YESTERDAY` / `LAST_N_DAYS:n`), `ORDER BY` with `ASC|DESC` and `NULLS FIRST|LAST`,
`LIMIT` and `OFFSET`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from connector.emulator.values import parse_datetime

KEYWORDS = frozenset(
    {
        "select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc", "nulls",
        "first", "last", "limit", "offset", "group", "having", "true", "false", "null", "includes",
        "excludes", "with", "for", "using", "typeof",
    }
)  # fmt: skip
DATE_CONSTANTS = frozenset({"today", "yesterday", "tomorrow", "last_n_days", "next_n_days"})
AGGREGATES = frozenset({"count", "max", "min", "sum", "avg", "count_distinct", "fields", "tolabel", "format"})
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2}(?![\d:T]))
    |(?P<number>-?\d+(?:\.\d+)?(?![\w.]))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<op>!=|<>|<=|>=|=|<|>)
    |(?P<punct>[(),:])""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


class SoqlError(Exception):
    """A query Salesforce would reject: `code` is MALFORMED_QUERY, INVALID_FIELD or INVALID_TYPE."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Token:
    """One lexical token and where it starts in the query text."""

    kind: str
    text: str
    pos: int

    def is_kw(self, *words: str) -> bool:
        """Whether this token is one of the given keywords (case-insensitive)."""
        return self.kind == "ident" and self.text.lower() in words


@dataclass(frozen=True)
class Literal:
    """A typed literal: kind is string, number, boolean, null, date, datetime or constant."""

    kind: str
    value: Any
    n: int = 0  # the N of LAST_N_DAYS:N


@dataclass(frozen=True)
class Compare:
    """`path op literal`."""

    path: str
    op: str
    value: Literal


@dataclass(frozen=True)
class InList:
    """`path [NOT] IN (literal, ...)`."""

    path: str
    values: tuple[Literal, ...]
    negate: bool


@dataclass(frozen=True)
class Like:
    """`path LIKE 'pattern'`."""

    path: str
    pattern: str


@dataclass(frozen=True)
class Junction:
    """`AND` or `OR` over two or more conditions."""

    op: str
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """`NOT condition`."""

    part: Condition


Condition = Compare | InList | Like | Junction | Not


@dataclass(frozen=True)
class OrderItem:
    """One `ORDER BY` key."""

    path: str
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    """A parsed SOQL statement."""

    fields: tuple[str, ...]
    count: bool
    sobject: str
    where: Condition | None
    order: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; MALFORMED_QUERY at the first character that fits no token."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise syntax_error(text, pos, f"unexpected token: {text[pos : pos + 10].split()[0]!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


def syntax_error(text: str, pos: int, problem: str) -> SoqlError:
    """A MALFORMED_QUERY error pointing at row and column, the way Salesforce words it."""
    row = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    line = text.splitlines()[row - 1] if text.strip() else ""
    return SoqlError(
        "MALFORMED_QUERY", f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{problem}"
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def at_text(self, char: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.text == char

    def at_kw(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.is_kw(*words)

    def fail(self, problem: str | None = None) -> SoqlError:
        tok = self.peek()
        if tok is None:
            return syntax_error(self.text, len(self.text), problem or "unexpected end of query")
        return syntax_error(self.text, tok.pos, problem or f"unexpected token: {tok.text}")

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise self.fail()
        self.i += 1
        return tok

    def keyword(self, *words: str) -> Token:
        tok = self.peek()
        if tok is None or not tok.is_kw(*words):
            raise self.fail()
        self.i += 1
        return tok

    def punct(self, char: str) -> None:
        tok = self.peek()
        if tok is None or tok.text != char:
            raise self.fail()
        self.i += 1

    def ident(self, what: str) -> str:
        tok = self.peek()
        if tok is None or tok.kind != "ident" or tok.text.lower() in KEYWORDS:
            raise self.fail(None if tok else f"unexpected end of query: expected {what}")
        nxt = self.peek(1)
        if nxt is not None and nxt.text == "(":
            if tok.text.lower() in AGGREGATES:
                raise self.fail(f"{tok.text.upper()}(...) is not supported by the emulator (only COUNT())")
            raise self.fail(f"unknown function: {tok.text}")
        self.i += 1
        return tok.text

    def parse(self) -> Query:
        self.keyword("select")
        fields: list[str] = []
        count = False
        first = self.peek()
        nxt = self.peek(1)
        if first is not None and first.is_kw("count") and nxt is not None and nxt.text == "(":
            self.i += 2
            if not self.at_text(")"):
                raise self.fail("COUNT(field) is not supported by the emulator: use COUNT()")
            self.punct(")")
            count = True
        else:
            while True:
                tok = self.peek()
                if tok is not None and tok.text == "(":
                    raise self.fail("child relationship sub-queries are not supported by the emulator")
                fields.append(self.ident("a field"))
                if not self.at_text(","):
                    break
                self.i += 1
        self.keyword("from")
        sobject = self.ident("an object")
        if "." in sobject:
            raise syntax_error(self.text, self.tokens[self.i - 1].pos, f"unexpected token: {sobject}")
        where = None
        if self.at_kw("where"):
            self.i += 1
            where = self.condition()
        tok = self.peek()
        if tok is not None and tok.is_kw("group", "having", "with", "for", "using"):
            raise self.fail(f"{tok.text.upper()} is not supported by the emulator")
        order: list[OrderItem] = []
        if tok is not None and tok.is_kw("order"):
            self.i += 1
            self.keyword("by")
            order.append(self.order_item())
            while self.at_text(","):
                self.i += 1
                order.append(self.order_item())
        limit = self.integer_clause("limit")
        offset = self.integer_clause("offset")
        if self.peek() is not None:
            raise self.fail()
        return Query(tuple(fields), count, sobject, where, tuple(order), limit, offset)

    def integer_clause(self, word: str) -> int | None:
        tok = self.peek()
        if tok is None or not tok.is_kw(word):
            return None
        self.i += 1
        value = self.take()
        if value.kind != "number" or not value.text.isdigit():
            raise syntax_error(self.text, value.pos, f"unexpected token: {value.text}")
        return int(value.text)

    def order_item(self) -> OrderItem:
        path = self.ident("a field")
        descending = False
        tok = self.peek()
        if tok is not None and tok.is_kw("asc", "desc"):
            descending = tok.text.lower() == "desc"
            self.i += 1
        nulls_last = descending
        if self.at_kw("nulls"):
            self.i += 1
            nulls_last = self.keyword("first", "last").text.lower() == "last"
        return OrderItem(path, descending, nulls_last)

    def condition(self) -> Condition:
        parts = [self.term()]
        op = None
        while (tok := self.peek()) is not None and tok.is_kw("and", "or"):
            word = tok.text.lower()
            if op is not None and word != op:
                raise self.fail(f"unexpected token: {tok.text} (use parentheses to mix AND and OR)")
            op = word
            self.i += 1
            parts.append(self.term())
        return parts[0] if op is None else Junction(op, tuple(parts))

    def term(self) -> Condition:
        tok = self.peek()
        if tok is not None and tok.is_kw("not"):
            self.i += 1
            return Not(self.term())
        if tok is not None and tok.text == "(":
            self.i += 1
            inner = self.condition()
            self.punct(")")
            return inner
        return self.predicate()

    def predicate(self) -> Condition:
        path = self.ident("a field")
        tok = self.take()
        if tok.kind == "op":
            return Compare(path, "!=" if tok.text == "<>" else tok.text, self.literal())
        negate = False
        if tok.is_kw("not"):
            negate = True
            tok = self.take()
            if not tok.is_kw("in"):
                raise syntax_error(self.text, tok.pos, f"unexpected token: {tok.text}")
        if tok.is_kw("in"):
            self.punct("(")
            if self.at_kw("select"):
                raise self.fail("semi-join sub-selects (IN (SELECT ...)) are not supported by the emulator")
            values = [self.literal()]
            while self.at_text(","):
                self.i += 1
                values.append(self.literal())
            self.punct(")")
            return InList(path, tuple(values), negate)
        if tok.is_kw("like"):
            lit = self.literal()
            if lit.kind != "string":
                raise self.fail("LIKE needs a quoted string pattern")
            return Like(path, str(lit.value))
        if tok.is_kw("includes", "excludes"):
            raise syntax_error(self.text, tok.pos, f"{tok.text.upper()} is not supported by the emulator")
        raise syntax_error(self.text, tok.pos, f"unexpected token: {tok.text}")

    def literal(self) -> Literal:
        tok = self.take()
        if tok.kind == "string":
            body = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), tok.text[1:-1])
            return Literal("string", body)
        if tok.kind == "number":
            return Literal("number", float(tok.text))
        if tok.kind == "datetime":
            return Literal("datetime", parse_datetime(tok.text))
        if tok.kind == "date":
            try:
                return Literal("date", date.fromisoformat(tok.text))
            except ValueError:
                raise syntax_error(self.text, tok.pos, f"invalid date: {tok.text}") from None
        word = tok.text.lower() if tok.kind == "ident" else ""
        if word in ("true", "false"):
            return Literal("boolean", word == "true")
        if word == "null":
            return Literal("null", None)
        if word in DATE_CONSTANTS:
            n = 0
            if word.endswith("_n_days"):
                self.punct(":")
                num = self.take()
                if num.kind != "number" or not num.text.isdigit():
                    raise syntax_error(self.text, num.pos, f"unexpected token: {num.text}")
                n = int(num.text)
            return Literal("constant", word, n)
        raise syntax_error(self.text, tok.pos, f"unexpected token: {tok.text}")


def parse(text: str) -> Query:
    """Parse one SOQL statement; SoqlError (MALFORMED_QUERY) when it is outside the subset."""
    if len(text) > 100_000:
        raise SoqlError("MALFORMED_QUERY", "Query is too long: the maximum is 100,000 characters")
    if not text.strip():
        raise SoqlError("MALFORMED_QUERY", "empty query")
    return _Parser(text).parse()
