"""Salesforce API names and SOQL conditions from config: checked, since they are pasted into SOQL.

A mapping value such as `"Tracking_Consent__c, Email, Phone"` would otherwise select three fields
where one was meant (and make every consent read false); a `where` with `LIMIT 1` or an unbalanced
quote would change the query. Names are checked against Salesforce's pattern: a letter, then letters,
digits and underscores (namespace `ns__` and suffixes `__c`, `__r`, `__History` included); a field
path joins relationship names with dots.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_NAME = r"[A-Za-z][A-Za-z0-9_]{0,79}"
_PATH = re.compile(rf"{_NAME}(?:\.{_NAME}){{0,5}}")
_CLAUSE = re.compile(
    r"\b(LIMIT|OFFSET|ORDER\s+BY|GROUP\s+BY|HAVING|FOR\s+(VIEW|UPDATE|REFERENCE)|WITH|USING)\b", re.I
)


def api_name(value: str) -> str:
    """`value` when it is an object or field API name (or a dotted field path); ValueError otherwise."""
    if not _PATH.fullmatch(value) or "___" in value or value.endswith("_"):
        raise ValueError(
            f"{value!r} is not a Salesforce API name (a letter, then letters, digits and underscores;"
            " dots only between relationship names)"
        )
    return value


def soql_condition(value: str) -> str:
    """`value` when it reads as one SOQL condition: quotes and parentheses balanced, no other clause."""
    depth, outside, i = 0, [], 0
    while i < len(value):
        char = value[i]
        if char == "'":
            end = i + 1
            while end < len(value) and value[end] != "'":
                end += 2 if value[end] == "\\" else 1
            if end >= len(value):
                raise ValueError(f"{value!r}: a quote is not closed")
            outside.append(" ")
            i = end + 1
            continue
        depth += (char == "(") - (char == ")")
        if depth < 0 or char == ";":
            raise ValueError(f"{value!r}: not one SOQL condition (unbalanced parenthesis or ';')")
        outside.append(char)
        i += 1
    if depth:
        raise ValueError(f"{value!r}: a parenthesis is not closed")
    clause = _CLAUSE.search("".join(outside))
    if clause:
        raise ValueError(f"{value!r}: a condition only; {clause[0].upper()} is another clause of the query")
    return value


def optional_api_name(value: str) -> str:
    """`api_name`, or '' for "not set"."""
    return value and api_name(value)


ApiName = Annotated[str, AfterValidator(api_name)]
OptionalApiName = Annotated[str, AfterValidator(optional_api_name)]
Condition = Annotated[str, AfterValidator(soql_condition)]
