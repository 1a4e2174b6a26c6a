"""Run a parsed SOQL query against the store: resolve names, type-check literals, filter, sort, shape.

Names are checked against the schema before any row is read, so an unknown object is INVALID_TYPE,
an unknown field or relationship INVALID_FIELD, and a literal of the wrong type INVALID_FIELD, with
Salesforce's wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from connector.emulator.schema import FieldDef, ObjectDef, resolve_object
from connector.emulator.soql import Compare, Condition, InList, Junction, Like, Literal, Not, Query, SoqlError
from connector.emulator.store import Row
from connector.emulator.values import normalise_id, to_json

_STRINGY = frozenset(
    {"id", "string", "textarea", "email", "url", "phone", "picklist", "reference", "anyType", "multipicklist"}
)
Predicate = Callable[[Row], bool]


class Tables(Protocol):
    """What a query reads: the names it may resolve and the rows behind them (`Store` is one)."""

    schema: dict[str, ObjectDef]
    rows: dict[str, dict[str, Row]]

    def visible(self, obj: str) -> list[Row]:
        """The rows of `obj` queries see now."""
        ...

    def find(self, record_id: str) -> tuple[str, Row] | None:
        """The object and row of an id of any object."""
        ...


@dataclass(frozen=True)
class Path:
    """A resolved field path: the lookups to follow, then the field to read."""

    hops: tuple[tuple[FieldDef, ObjectDef], ...]  # (lookup field on the previous object, target object)
    field: FieldDef
    names: tuple[str, ...]  # canonical names: relationship names, then the field name


def resolve(schema: dict[str, ObjectDef], root: ObjectDef, text: str) -> Path:
    """Resolve `A.B.Field` from `root`; INVALID_FIELD naming what is unknown."""
    parts = text.split(".")
    # A path may start with the object's own name (`Contact.Id`), as SOQL allows.
    if len(parts) > 1 and parts[0].lower() == root.name.lower():
        parts = parts[1:]
    obj = root
    hops: list[tuple[FieldDef, ObjectDef]] = []
    names: list[str] = []
    for rel in parts[:-1]:
        lookup = obj.relationships.get(rel.lower())
        if lookup is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"Didn't understand relationship '{rel}' in field path. If you are attempting to use a "
                "custom relationship, be sure to append the '__r' after the custom relationship name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        obj = schema[lookup.reference_to[0]]
        hops.append((lookup, obj))
        names.append(str(lookup.relationship_name))
    fdef = obj.field(parts[-1])
    if fdef is None:
        raise SoqlError(
            "INVALID_FIELD",
            f"No such column '{parts[-1]}' on entity '{obj.name}'. If you are attempting to use a custom "
            "field, be sure to append the '__c' after the custom field name. Please reference your WSDL "
            "or the describe call for the appropriate names.",
        )
    return Path(tuple(hops), fdef, (*names, fdef.name))


class Evaluator:
    """Evaluates one query against a store at a given moment."""

    def __init__(self, store: Tables, now: datetime) -> None:
        self.store = store
        self.now = now

    def root(self, query: Query) -> ObjectDef:
        """The queried object; INVALID_TYPE when the org has none of that name."""
        obj = resolve_object(self.store.schema, query.sobject)
        if obj is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"\n{query.sobject}\n^\nERROR at Row:1:Column:1\nsObject type '{query.sobject}' is not "
                "supported. If you are attempting to use a custom object, be sure to append the '__c' "
                "after the entity name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
            )
        return obj

    def run(
        self, query: Query, *, include_deleted: bool, api_version: str
    ) -> tuple[int, list[dict[str, Any]]]:
        """(totalSize, records) for a query; records are REST-shaped dicts."""
        total, rows, shape = self.select(query, include_deleted=include_deleted, api_version=api_version)
        return total, shape(rows)

    def select(
        self, query: Query, *, include_deleted: bool, api_version: str
    ) -> tuple[int, list[Row], Callable[[list[Row]], list[dict[str, Any]]]]:
        """(totalSize, matching rows in order, a function shaping rows into REST records).

        Shaping is separate so a paged query shapes each page only when it is fetched.
        """
        obj = self.root(query)
        schema = self.store.schema
        selected = [resolve(schema, obj, f) for f in query.fields]
        seen: set[tuple[str, ...]] = set()
        for path in selected:
            if path.names in seen:
                raise SoqlError("MALFORMED_QUERY", f"duplicate field selected: {'.'.join(path.names)}")
            seen.add(path.names)
        keep = self.compile(obj, query.where) if query.where is not None else None
        order = [(resolve(schema, obj, item.path), item) for item in query.order]
        rows = [
            r for r in self.store.visible(obj.name)
            if (include_deleted or not r.get("IsDeleted")) and (keep is None or keep(r))
        ]  # fmt: skip
        for path, item in reversed(order):
            values = [(self.read(r, path), r) for r in rows]
            nulls = [r for v, r in values if v is None]
            present = [(v, r) for v, r in values if v is not None]
            present.sort(key=lambda pair: _sort_key(pair[0]), reverse=item.descending)
            ordered = [r for _, r in present]
            rows = ordered + nulls if item.nulls_last else nulls + ordered
        rows = rows[query.offset or 0 :]
        if query.limit is not None:
            rows = rows[: query.limit]
        if query.count:
            return len(rows), [], lambda _: []
        return len(rows), rows, lambda page: [self.shape(obj, r, selected, api_version) for r in page]

    def read(self, row: Row | None, path: Path) -> Any:
        """The value at `path` for a row, following lookups (None when a lookup is empty)."""
        for lookup, target in path.hops:
            if row is None:
                return None
            ref = row.get(lookup.name)
            row = self.store.rows[target.name].get(ref) if ref else None
            if row is None and ref:
                found = self.store.find(ref)
                row = found[1] if found else None
        return None if row is None else row.get(path.field.name)

    def shape(self, obj: ObjectDef, row: Row, selected: list[Path], api_version: str) -> dict[str, Any]:
        """One REST record: `attributes`, then the selected fields, parents as nested records."""
        out: dict[str, Any] = {"attributes": _attributes(obj.name, row["Id"], api_version)}
        for path in selected:
            target: dict[str, Any] | None = out
            current: Row | None = row
            for (lookup, parent_obj), name in zip(path.hops, path.names, strict=False):
                if target is None:
                    break
                ref = current.get(lookup.name) if current is not None else None
                current = self.store.rows[parent_obj.name].get(ref) if ref else None
                if name not in target:
                    target[name] = (
                        None if current is None
                        else {"attributes": _attributes(parent_obj.name, current["Id"], api_version)}
                    )  # fmt: skip
                target = target[name]
            if target is not None:
                target[path.field.name] = (
                    to_json(current.get(path.field.name)) if current is not None else None
                )
        return out

    # ----- WHERE -------------------------------------------------------------------------------------
    def compile(self, obj: ObjectDef, cond: Condition) -> Predicate:
        """Turn a condition into a row predicate, type-checking every literal first."""
        if isinstance(cond, Junction):
            parts = [self.compile(obj, p) for p in cond.parts]
            if cond.op == "and":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if isinstance(cond, Not):
            inner = self.compile(obj, cond.part)
            return lambda r: not inner(r)
        path = resolve(self.store.schema, obj, cond.path)
        if isinstance(cond, Like):
            if path.field.type not in _STRINGY:
                raise SoqlError("INVALID_FIELD", f"invalid operator on {path.field.type} field: LIKE")
            regex = _like_regex(cond.pattern)
            return lambda r: (v := self.read(r, path)) is not None and regex.match(str(v)) is not None
        if isinstance(cond, InList):
            wanted = [self.value(path.field, lit, "IN") for lit in cond.values]
            keys = {_eq_key(v) for v in wanted}
            negate = cond.negate
            return lambda r: (_eq_key(self.read(r, path)) in keys) != negate
        return self.comparison(path, cond)

    def comparison(self, path: Path, cond: Compare) -> Predicate:
        """A predicate for `field op literal`, with Salesforce's null and date-constant semantics."""
        op = cond.op
        if cond.value.kind == "null":
            if op not in ("=", "!="):
                raise SoqlError("MALFORMED_QUERY", f"invalid operator with null: {op}")
            return lambda r: (self.read(r, path) is None) == (op == "=")
        if cond.value.kind == "constant" and path.field.type == "datetime":
            start, end = self.constant_range(cond.value)
            return _range_predicate(lambda r: self.read(r, path), op, start, end)
        target = self.value(path.field, cond.value, op)
        if path.field.type == "boolean" and op not in ("=", "!="):
            raise SoqlError("INVALID_FIELD", f"invalid operator on boolean field: {op}")
        key = _sort_key(target)
        if op == "!=":
            return lambda r: (v := self.read(r, path)) is None or _sort_key(v) != key
        compare = _OPS[op]
        return lambda r: (v := self.read(r, path)) is not None and compare(_sort_key(v), key)

    def value(self, fdef: FieldDef, lit: Literal, op: str) -> Any:
        """The literal as a value of the field's type; INVALID_FIELD when it is of another type."""
        kind, ftype = lit.kind, fdef.type
        if kind == "null":
            return None
        if ftype in _STRINGY and kind == "string":
            if ftype in ("id", "reference"):
                return normalise_id(lit.value) or lit.value
            return lit.value
        if ftype == "double" and kind == "number":
            return lit.value
        if ftype == "boolean" and kind == "boolean":
            return lit.value
        if ftype == "date" and kind in ("date", "constant"):
            return lit.value if kind == "date" else self.constant_range(lit)[0].date()
        if ftype == "datetime" and kind == "datetime":
            return lit.value
        wanted = {"double": "number", "boolean": "boolean", "date": "date", "datetime": "dateTime"}.get(
            ftype, "string"
        )
        quoting = "be enclosed in quotes" if wanted == "string" else "not be enclosed in quotes"
        raise SoqlError(
            "INVALID_FIELD",
            f"value of filter criterion for field '{fdef.name}' must be of type {wanted} "
            f"and should {quoting}",
        )

    def constant_range(self, lit: Literal) -> tuple[datetime, datetime]:
        """[start, end) of a date constant such as TODAY or LAST_N_DAYS:7 (UTC days)."""
        today = datetime.combine(self.now.date(), datetime.min.time(), tzinfo=UTC)
        day = timedelta(days=1)
        ranges = {
            "today": (today, today + day),
            "yesterday": (today - day, today),
            "tomorrow": (today + day, today + 2 * day),
            "last_n_days": (today - lit.n * day, today + day),
            "next_n_days": (today + day, today + (lit.n + 1) * day),
        }
        return ranges[str(lit.value)]


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _range_predicate(read: Callable[[Row], Any], op: str, start: datetime, end: datetime) -> Predicate:
    """Datetime field against a date constant: `=` means within the range, `<` before it, and so on."""
    checks: dict[str, Callable[[datetime], bool]] = {
        "=": lambda v: start <= v < end,
        "!=": lambda v: not (start <= v < end),
        "<": lambda v: v < start,
        "<=": lambda v: v < end,
        ">": lambda v: v >= end,
        ">=": lambda v: v >= start,
    }
    check = checks[op]
    return lambda r: (v := read(r)) is not None and check(v)


def _sort_key(value: Any) -> Any:
    """Strings compare case-insensitively in SOQL; other values as they are."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, datetime | date | bool | int | float):
        return value
    return str(value)


def _eq_key(value: Any) -> Any:
    return None if value is None else _sort_key(value)


def _like_regex(pattern: str) -> re.Pattern[str]:
    """SOQL LIKE: `%` any run, `_` one character, backslash escapes; case-insensitive."""
    out = ""
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out += re.escape(next(chars, "\\"))
        elif char == "%":
            out += ".*"
        elif char == "_":
            out += "."
        else:
            out += re.escape(char)
    return re.compile(out + r"\Z", re.IGNORECASE | re.DOTALL)


def _attributes(obj: str, record_id: str, api_version: str) -> dict[str, str]:
    return {"type": obj, "url": f"/services/data/v{api_version}/sobjects/{obj}/{record_id}"}
