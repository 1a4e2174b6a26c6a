"""Score lines in the ledger's JSON columns (`contact_state.lines`, `org_details.lines`, a Bulk job's
confirmations): rule -> `[points, events, last event day, next lapse day]`.

Versions before the line facts stored bare points (`{"intake": 30}`); those load with the facts None,
which is also what the org holds of fields nobody wrote, so the next plan writes the facts once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connector.details import LineFacts
from connector.events import day_text, parse_day


def line_value(line: LineFacts) -> list[Any]:
    """One line as JSON-ready data."""
    return [line.points, line.events, day_text(line.last_event_on), day_text(line.lapses_on)]


def line_of(value: Any) -> LineFacts:
    """One line from its JSON data, bare points (an older version's) included."""
    if isinstance(value, int):
        return LineFacts(value)
    points, events, last, lapses = value
    return LineFacts(int(points), None if events is None else int(events), parse_day(last), parse_day(lapses))


def lines_json(lines: Mapping[str, LineFacts]) -> str:
    """Lines as the column holds them; keys sorted, so equal lines are equal text (the pending query
    compares the two columns as text)."""
    return json.dumps({rule: line_value(line) for rule, line in sorted(lines.items())})


def lines_of(text: str) -> dict[str, LineFacts]:
    """Lines from a column's text."""
    return {rule: line_of(value) for rule, value in json.loads(text).items()}
