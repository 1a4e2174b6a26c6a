"""What `check` verifies of the sources: every object and field they read is readable by the user.

A field hidden by field-level security is missing from its object's describe, an object without read
permission is missing from describeGlobal (or not `queryable`): the first poll would fail on it with
INVALID_FIELD / INVALID_TYPE, so `check` names it now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connector.sf.mapping import CheckRow


def check_reads(
    describe_global: Callable[[], Mapping[str, Any]],
    describe: Callable[[str], Mapping[str, Any]],
    reads: Mapping[str, Sequence[str]],
) -> list[CheckRow]:
    """One failed row per object or field the sources read that the integration user cannot read."""
    sobjects = {str(o.get("name")): o for o in describe_global().get("sobjects", [])}
    rows: list[CheckRow] = []
    fields_ok = 0
    for obj, fields in reads.items():
        found = sobjects.get(obj)
        if found is None or not found.get("queryable", True):
            why = "not in describeGlobal" if found is None else "not queryable"
            detail = f"{obj} is not readable by the integration user ({why})"
            rows.append(CheckRow(f"sources: {obj}", False, detail, f"grant the user read access to {obj}"))
            continue
        described = describe(obj)
        names = {str(f.get("name")).lower() for f in described.get("fields", [])}
        relations = {str(f.get("relationshipName")).lower() for f in described.get("fields", [])}
        for path in fields:
            head, _, rest = path.partition(".")
            if (head.lower() in relations) if rest else (head.lower() in names):
                fields_ok += 1
                continue
            detail = f"{obj}.{path} is not readable by the integration user (not in describe)"
            fix = f"grant field-level read access to {obj}.{head} (profile or permission set)"
            rows.append(CheckRow(f"sources: {obj}.{path}", False, detail, fix))
    if rows:
        return rows
    return [CheckRow("sources", True, f"{len(reads)} objects, {fields_ok} fields readable")]
