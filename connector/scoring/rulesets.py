"""Rule sets as versions: a canonical text of the rules, its fingerprint, and what changed. Pure.

The text holds the scoring engine's version too: an upgrade that changes what the same rules score
is a rule change to the rail (named "the scoring engine changed"), not a silent jump.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from connector.config import Medals, Scoring

# Raise it whenever the engine scores the same rules and events differently (a connector upgrade).
ENGINE_VERSION = 2  # 2: one e-mail's reply counts once (the old HasReply event and the reply message)


def rules_text(scoring: Scoring, medals: Medals) -> str:
    """The rules that decide scores, as canonical JSON (the same rules always give the same text)."""
    return json.dumps(
        {
            "engine": ENGINE_VERSION,
            "scoring": scoring.model_dump(mode="json"),
            "medals": medals.model_dump(mode="json"),
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def fingerprint(text: str) -> str:
    """A short, stable name for one rule set's text."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def rule_set_of(text: str) -> tuple[Scoring, Medals]:
    """The rules back from their canonical text."""
    raw = json.loads(text)
    return Scoring.model_validate(raw["scoring"]), Medals.model_validate(raw["medals"])


def changed_rules(old: str, new: str) -> list[str]:
    """What differs between two rule sets: the engine, rule names (added, removed, changed), then other
    settings. A text from before engine versions were recorded names the engine "unrecorded"."""
    before, after = json.loads(old), json.loads(new)
    engines = before.get("engine", "unrecorded"), after.get("engine", "unrecorded")
    names = (
        [f"the scoring engine changed (version {engines[0]} → {engines[1]})"]
        if engines[0] != engines[1]
        else []
    )
    rules_before = _by_name(before["scoring"].pop("rules", []))
    rules_after = _by_name(after["scoring"].pop("rules", []))
    names += [
        f"{name} ({_how(name in rules_before, name in rules_after)})"
        for name in sorted(rules_before.keys() | rules_after.keys())
        if rules_before.get(name) != rules_after.get(name)
    ]
    for table in ("scoring", "medals"):
        for key in sorted(before[table].keys() | after[table].keys()):
            if before[table].get(key) != after[table].get(key):
                names.append(f"[{table}] {key}")
    return names


def _by_name(rules: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(rule["name"]): rule for rule in rules}


def _how(before: bool, after: bool) -> str:
    return "changed" if before and after else "added" if after else "removed"
