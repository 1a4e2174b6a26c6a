"""The rule sets the connector applied, in the ledger: the one in force and the audit of changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connector.ledger.store import Ledger


@dataclass(frozen=True, slots=True)
class AppliedRules:
    """One applied rule set: its fingerprint and text, when, how many contacts it changed, forced or not."""

    fingerprint: str
    rules: str
    applied_at: str
    contacts_changed: int
    forced: bool


def rules_in_force(ledger: Ledger) -> AppliedRules | None:
    """The last applied rule set, or None before the first cycle."""
    found = applied_rule_sets(ledger, limit=1)
    return found[0] if found else None


def applied_rule_sets(ledger: Ledger, limit: int = 5) -> list[AppliedRules]:
    """The most recently applied rule sets, newest first."""
    rows = ledger.db.execute(
        "SELECT fingerprint, rules, applied_at, contacts_changed, forced FROM rule_sets"
        " ORDER BY id DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [AppliedRules(r[0], r[1], r[2], int(r[3]), bool(r[4])) for r in rows]


def record_rules(
    ledger: Ledger, fingerprint: str, rules: str, at: datetime, contacts_changed: int, *, forced: bool
) -> None:
    """Record a rule set as applied at `at`."""
    with ledger.transaction():
        ledger.db.execute(
            "INSERT INTO rule_sets (fingerprint, rules, applied_at, contacts_changed, forced)"
            " VALUES (?, ?, ?, ?, ?)",
            [fingerprint, rules, at.isoformat(), contacts_changed, int(forced)],
        )
