"""The rail, where a cycle re-scores: time and new activity pass, a rule change is checked first.

Changes caused by time passing under unchanged rules (expiry, inactivity) and by new activity in the
org are what the connector is for, so they are always written. A change of the rules themselves can
move many scores at once by mistake: it is applied when it changes at most `max_change_share` of the
scored contacts (or with `--force`, or before the first write), otherwise held back by name while the
cycle goes on scoring under the rules in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from connector.config import Settings
from connector.details import ShownDetails, StoredState
from connector.ledger import Ledger
from connector.ledger.rule_sets import record_rules, rules_in_force
from connector.ledger.sync_state import count_scored, pending_contacts
from connector.scoring.rulesets import changed_rules, fingerprint, rule_set_of, rules_text
from connector.shell.rescore import rescore
from connector.sync.plan import plan_contact

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Scored:
    """What the score step did: contacts scored, and the rule change it held back ('' when none)."""

    scored: int
    held_back: str = ""


def score_under_rail(
    ledger: Ledger, settings: Settings, now: datetime, *, everyone: bool, force: bool, first: bool
) -> Scored:
    """Re-score dirty contacts (everyone on the daily pass or a rule change), checking rule changes."""
    text = rules_text(settings.scoring, settings.medals)
    version = fingerprint(text)
    applied = rules_in_force(ledger)
    if applied is not None and applied.fingerprint == version:
        return Scored(rescore(ledger, settings, now, everyone=everyone).scored)
    scored = rescore(ledger, settings, now, everyone=applied is not None or everyone).scored
    if applied is None:  # the first cycle: these rules are the baseline
        record_rules(ledger, version, text, now, 0, forced=False)
        return Scored(scored)
    changed = sum(1 for state, shown in pending_contacts(ledger) if _differs(state, shown))
    share = changed / max(1, count_scored(ledger))
    above = changed > settings.sync.max_change_min_contacts and share > settings.sync.max_change_share
    names = ", ".join(changed_rules(applied.rules, text)) or "the rule set"
    if above and not (force or first):
        rescore(
            ledger, rules_in_force_of(ledger, settings), now, everyone=True
        )  # back to the rules in force; activity still lands
        reason = (
            f"rules changed ({names}): {changed} contacts ({share:.0%}) would change, above"
            f" max_change_share {settings.sync.max_change_share:.0%}; held back, the rules in force"
            f" ({applied.fingerprint}) still apply. Preview: msr-engage simulate --config config.toml;"
            " apply: msr-engage sync --once --force"
        )
        log.warning("rule_change_held_back", fingerprint=version, changed=changed, rules=names)
        return Scored(scored, reason)
    record_rules(ledger, version, text, now, changed, forced=above)
    log.info("rule_change_applied", fingerprint=version, changed=changed, rules=names, forced=above)
    return Scored(scored)


def _differs(state: StoredState, shown: ShownDetails | None) -> bool:
    plan = plan_contact(state, shown)
    return bool(plan.values or plan.lines)


def rules_in_force_of(ledger: Ledger, settings: Settings) -> Settings:
    """`settings` with the rules the ledger last applied (as they are when none were applied yet)."""
    applied = rules_in_force(ledger)
    if applied is None:
        return settings
    scoring, medals = rule_set_of(applied.rules)
    return settings.model_copy(update={"scoring": scoring, "medals": medals})
