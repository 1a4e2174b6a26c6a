"""`query?q=...&columns=true`: the columns a query selects, without running it (`sf data query` asks).

Salesforce answers `columnMetadata` (one entry per selected column; a parent path is one entry for
the relationship whose `joinColumns` hold the parent's fields), plus the queried entity's name and
key prefix. `COUNT()` selects no column.
"""

from __future__ import annotations

from typing import Any

from connector.emulator.query import Evaluator, Path, resolve
from connector.emulator.schema import FieldDef
from connector.emulator.soql import Query

_APEX_TYPES = {
    "id": "Id", "reference": "Id", "boolean": "Boolean", "double": "Double", "date": "Date",
    "datetime": "Datetime", "anyType": "Object",
}  # fmt: skip
_TEXT = frozenset({"string", "textarea", "email", "url", "phone", "picklist", "multipicklist"})


def _column(name: str, display: str, fdef: FieldDef | None, join: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "aggregate": False,
        "apexType": None if fdef is None else _APEX_TYPES.get(fdef.type, "String"),
        "booleanType": fdef is not None and fdef.type == "boolean",
        "columnName": name,
        "custom": fdef is not None and fdef.custom,
        "displayName": display,
        "foreignKeyName": None,
        "insertable": fdef is not None and fdef.createable,
        "joinColumns": join,
        "numberType": fdef is not None and fdef.type == "double",
        "textType": fdef is not None and fdef.type in _TEXT,
        "updatable": fdef is not None and fdef.updateable,
    }


def _insert(columns: list[dict[str, Any]], path: Path, depth: int, prefix: str) -> None:
    """Add `path` from hop `depth` on, joining the columns of a relationship already listed."""
    name = path.names[depth]
    display = f"{prefix}.{name}" if prefix else name
    if depth == len(path.names) - 1:
        columns.append(_column(name, display, path.field, []))
        return
    for column in columns:
        if column["columnName"] == name and column["joinColumns"]:
            _insert(column["joinColumns"], path, depth + 1, display)
            return
    relationship = _column(name, display, None, [])
    columns.append(relationship)
    _insert(relationship["joinColumns"], path, depth + 1, display)


def column_metadata(evaluator: Evaluator, query: Query) -> dict[str, Any]:
    """The `columns=true` answer for a parsed query; SoqlError as the query itself would raise."""
    obj = evaluator.root(query)
    paths = [resolve(evaluator.store.schema, obj, f) for f in query.fields]
    if query.where is not None:
        evaluator.compile(obj, query.where)  # a bad filter fails here as it would when run
    columns: list[dict[str, Any]] = []
    for path in [] if query.count else paths:
        _insert(columns, path, 0, "")
    return {
        "columnMetadata": columns,
        "entityName": obj.name,
        "groupBy": False,
        "idSelected": any(not p.hops and p.field.name == "Id" for p in paths),
        "keyPrefix": obj.key_prefix,
    }
