"""The shell of `evaluate` (and `simulate --evaluate`): the ledger's events in, the pure evaluation out.

`now` is passed in by the caller; nothing here reads the clock or writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from connector.config import Settings
from connector.errors import InputError
from connector.events import APPLICATION_STEP, EventRecord, from_micros
from connector.ledger import Ledger
from connector.scoring.engine import Rulebook
from connector.scoring.evaluate import (
    Evaluation,
    Tally,
    each_observation,
    outcome_steps,
    snapshot_times,
    summarise,
)
from connector.shell.rescore import Progress

Contact = tuple[str, list[EventRecord]]
PROGRESS_EVERY = 1_000  # contacts between two calls of `progress`


@dataclass(frozen=True, slots=True)
class EvaluationRun:
    """What was evaluated (outcome, horizon, snapshots) and one summary per rule set."""

    outcome: str
    horizon: timedelta
    snapshots: tuple[datetime, ...]
    results: tuple[Evaluation, ...]


def evaluate(
    ledger: Ledger,
    rule_sets: Sequence[Settings],
    *,
    outcome: str,
    horizon: timedelta,
    every: timedelta,
    since: date | None,
    now: datetime,
    progress: Progress | None = None,
) -> EvaluationRun:
    """Evaluate each rule set on the same snapshots; the outcome's steps are the first set's medals.

    `progress` is told how many more contacts were evaluated, every `PROGRESS_EVERY` and at the end.
    """
    first_rules = rule_sets[0]
    # The first snapshot by default: a period after the first event a rule scores (or an application
    # step). Before it nobody can have a score, and contacts known long before (created, say) would
    # fill snapshots that cannot tell one band from another.
    scored = {rule.event for s in rule_sets for rule in s.scoring.rules} | {APPLICATION_STEP}
    first = ledger.first_event_at(scored)
    if first is None:
        raise InputError("the ledger holds no event any rule scores: nothing to evaluate")
    zone = first_rules.scoring.timezone
    start = since or from_micros(first).astimezone(ZoneInfo(zone)).date() + every
    times = snapshot_times(start, now, every, horizon, zone)
    if not times:
        raise InputError(
            f"no snapshot from {start} has its {horizon.days}-day horizon over by {now:%Y-%m-%d}:"
            " pass an earlier --since or a shorter --horizon"
        )
    steps = outcome_steps(first_rules.medals, outcome)
    kinds = {kind for s in rule_sets for kind in Rulebook(s.scoring, s.medals, now).attrs_kinds}
    # Counted as they come: memory follows the distinct scores, not contacts times snapshots.
    tallies = [Tally() for _ in rule_sets]
    contacts = _told(ledger.scan_records(kinds | {APPLICATION_STEP}), progress)
    rules = [(s.scoring, s.medals) for s in rule_sets]
    for index, observation in each_observation(contacts, rules, times, steps, horizon):
        tallies[index].add(observation)
    return EvaluationRun(outcome, horizon, tuple(times), tuple(summarise(t) for t in tallies))


def _told(contacts: Iterable[Contact], progress: Progress | None) -> Iterator[Contact]:
    """The contacts, telling `progress` of each `PROGRESS_EVERY` (and the rest at the end)."""
    done = 0
    for contact in contacts:
        yield contact
        done += 1
        if progress is not None and done == PROGRESS_EVERY:
            progress(done)
            done = 0
    if progress is not None and done:
        progress(done)


__all__ = ["EvaluationRun", "evaluate"]
