"""The rail, where a cycle re-scores: time and new activity pass, a rule change is checked first.

Changes caused by time passing under unchanged rules (expiry, inactivity) and by new activity in the
org are what the connector is for, so they are always written. A change of the rules themselves (or
of the scoring engine, a connector upgrade) can move many scores at once by mistake: it is applied
when it changes at most `max_change_share` of the scored contacts (or with `--force`, or before the
first write), otherwise held back by name while the cycle goes on scoring under the rules in force.
A clock that went back is refused: time passing backwards would undo expiry and decay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from connector.config import Settings
from connector.details import ShownDetails, StoredState
from connector.errors import ClockWentBackError
from connector.ledger import Ledger
from connector.ledger.history import record_pass
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


CLOCK_TOLERANCE = timedelta(minutes=5)  # clock adjustments smaller than this are no alarm
SCORED_AT = "scored_at"  # ledger meta: the `now` of the last cycle that scored


class _HeldBackError(Exception):
    """The trial re-score under new rules changed too many contacts: undo it (never leaves the rail)."""

    def __init__(self, changed: int, share: float) -> None:
        self.changed, self.share = changed, share


def score_under_rail(
    ledger: Ledger, settings: Settings, now: datetime, *, everyone: bool, force: bool, first: bool
) -> Scored:
    """Re-score dirty contacts (everyone on the daily pass or a rule change), checking rule changes;
    the daily pass (`everyone`) then notes in the score history what each contact shows."""
    scored = _score_under_rail(ledger, settings, now, everyone=everyone, force=force, first=first)
    if everyone:
        record_pass(ledger, now)
    return scored


def _score_under_rail(
    ledger: Ledger, settings: Settings, now: datetime, *, everyone: bool, force: bool, first: bool
) -> Scored:
    """Re-score dirty contacts (everyone on the daily pass or a rule change), checking rule changes.

    Refuses (`ClockWentBackError`) a `now` clearly before the last cycle that scored: expiry and
    decay would be undone. A rule change is tried in one transaction: above the share (and not
    forced, not before the first write) the trial is rolled back, and only what time and new
    activity change is scored, under the rules in force.
    """
    _check_clock(ledger, now)
    text = rules_text(settings.scoring, settings.medals)
    version = fingerprint(text)
    applied = rules_in_force(ledger)
    if applied is not None and applied.fingerprint == version:
        return _scored(ledger, now, rescore(ledger, settings, now, everyone=everyone).scored)
    if applied is None:  # the first cycle: these rules are the baseline
        scored = rescore(ledger, settings, now, everyone=everyone).scored
        record_rules(ledger, version, text, now, 0, forced=False)
        return _scored(ledger, now, scored)
    names = ", ".join(changed_rules(applied.rules, text)) or "the rule set"
    try:
        scored, changed, above = _try_rules(ledger, settings, now, text, allowed=force or first)
    except _HeldBackError as held:
        # Nothing of the trial stays; activity and time still land, under the rules in force (an
        # engine change cannot be undone: contacts without new activity keep what they had).
        scored = rescore(ledger, rules_in_force_of(ledger, settings), now, everyone=everyone).scored
        reason = (
            f"rules changed ({names}): {held.changed} contacts ({held.share:.0%}) would change, above"
            f" max_change_share {settings.sync.max_change_share:.0%}; held back, the rules in force"
            f" ({applied.fingerprint}) still apply. Preview: msr-engage simulate --config config.toml;"
            " apply: msr-engage sync --once --force"
        )
        log.warning("rule_change_held_back", fingerprint=version, changed=held.changed, rules=names)
        return _scored(ledger, now, scored, reason)
    log.info("rule_change_applied", fingerprint=version, changed=changed, rules=names, forced=above)
    return _scored(ledger, now, scored)


def _try_rules(
    ledger: Ledger, settings: Settings, now: datetime, text: str, *, allowed: bool
) -> tuple[int, int, bool]:
    """Re-score everyone under `text` in one transaction and apply it, or undo it all when it changes
    too many contacts and is not `allowed`: (scored, changed, above the share)."""
    with ledger.transaction():
        scored = rescore(ledger, settings, now, everyone=True).scored
        changed = sum(1 for state, shown in pending_contacts(ledger) if _differs(state, shown))
        share = changed / max(1, count_scored(ledger))
        above = changed > settings.sync.max_change_min_contacts and share > settings.sync.max_change_share
        if above and not allowed:
            raise _HeldBackError(changed, share)
        record_rules(ledger, fingerprint(text), text, now, changed, forced=above)
    return scored, changed, above


def _check_clock(ledger: Ledger, now: datetime) -> None:
    last = ledger.meta(SCORED_AT)
    if last and now < datetime.fromisoformat(last) - CLOCK_TOLERANCE:
        raise ClockWentBackError(
            f"the clock went back: this cycle's time {now.isoformat()} is before the last scored cycle's"
            f" {last}; scoring now would undo expiry and decay. Fix the system clock (NTP); cycles go on"
            " once it is past that time again"
        )


def _scored(ledger: Ledger, now: datetime, scored: int, held_back: str = "") -> Scored:
    last = ledger.meta(SCORED_AT)
    if not last or now > datetime.fromisoformat(last):
        ledger.set_meta(SCORED_AT, now.isoformat())
    return Scored(scored, held_back)


# What "moves" a contact for the rail: what a recruiter filters and sorts on. Explanations, score-line
# facts and trend follow from these; counting them would hold back a rule change (or the first one
# after an upgrade that adds such a field) for text nobody ranks by.
_MOVES = ("score", "band", "medal")


def _differs(state: StoredState, shown: ShownDetails | None) -> bool:
    values = plan_contact(state, shown).values
    return any(name in values for name in _MOVES)


def rules_in_force_of(ledger: Ledger, settings: Settings) -> Settings:
    """`settings` with the rules the ledger last applied (as they are when none were applied yet)."""
    applied = rules_in_force(ledger)
    if applied is None:
        return settings
    scoring, medals = rule_set_of(applied.rules)
    return settings.model_copy(update={"scoring": scoring, "medals": medals})
