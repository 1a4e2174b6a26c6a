"""What `check` verifies of the rules against the org: what would otherwise fail later, quietly or late."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from connector.config import Medals, Scoring
from connector.config.salesforce import ObjectMapping
from connector.events import APPLICATION_STEP, BUILT_IN_KINDS
from connector.sf.mapping import CheckRow


def check_rules(
    describe: Callable[[str], Mapping[str, Any]],
    scoring: Scoring,
    medals: Medals,
    objects: ObjectMapping,
    source_kinds: Iterable[str] = (),
) -> list[CheckRow]:
    """Rule kinds that no source makes, step values the org's picklist lacks, names too long for a line."""
    known = BUILT_IN_KINDS | set(source_kinds)
    rows = [
        CheckRow(
            f"scoring.rules.{rule.name}.event",
            False,
            f"no source makes events of kind {rule.event!r}: the rule never scores",
            f"use one of {', '.join(sorted(known))}",
        )
        for rule in scoring.rules
        if rule.event not in known
    ]
    rows += _check_steps(describe(objects.application.object), objects, scoring, medals)
    rows += _check_names(describe(objects.score_line.object), objects, scoring)
    return rows or [CheckRow("scoring rules", True, f"{len(scoring.rules)} rules fit the org")]


def _fields(described: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(f.get("name")): f for f in described.get("fields", [])}


def _check_steps(
    described: Mapping[str, Any], objects: ObjectMapping, scoring: Scoring, medals: Medals
) -> list[CheckRow]:
    field = _fields(described).get(objects.application.step)
    if field is None or field.get("type") != "picklist":
        return []  # the mapping check reports a missing or mistyped field
    values = {str(v.get("value")) for v in field.get("picklistValues", []) if v.get("active", True)}
    wanted: list[tuple[str, str]] = [
        (f"medals.{medal}", step) for medal in ("bronze", "silver", "gold") for step in getattr(medals, medal)
    ]
    for rule in scoring.rules:
        if rule.event == APPLICATION_STEP and "step" in rule.where:
            steps = rule.where["step"]
            wanted += [
                (f"scoring.rules.{rule.name}.where.step", str(s))
                for s in (steps if isinstance(steps, list) else [steps])
            ]
    rows = []
    for key, step in wanted:
        if step in values:
            continue
        near = [v for v in values if v.casefold() == step.casefold()]
        fix = f"did you mean {near[0]!r}?" if near else f"use one of {', '.join(sorted(values))}"
        rows.append(CheckRow(key, False, f"{step!r} is not a value of {objects.application.step}", fix))
    return rows


def _check_names(described: Mapping[str, Any], objects: ObjectMapping, scoring: Scoring) -> list[CheckRow]:
    field = _fields(described).get(objects.score_line.rule)
    length = int(field.get("length") or 0) if field is not None else 0
    if not length:
        return []
    return [
        CheckRow(
            f"scoring.rules.{rule.name}.name",
            False,
            f"{len(rule.name)} characters; {objects.score_line.rule} holds {length}",
            f"shorten the rule's name to at most {length} characters",
        )
        for rule in scoring.rules
        if len(rule.name) > length
    ]
