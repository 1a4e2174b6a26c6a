"""Does the band predict the outcome? Snapshots rebuilt from the events, scored as they stood then.

Pure: events, rules, snapshot times and a horizon in; observations and their summary out. Scores are a
function of events, rules and time, so a past snapshot is the rules applied at that moment to the
events before it. Without that cut the score would "predict" placement trivially: the intake and
proposal steps that lead to a placement earn points themselves.

- A snapshot holds the candidates (contact kind at the snapshot) with at least one event before it who
  had not reached the outcome before it.
- A candidate's outcome counts only if first reached in `[snapshot, snapshot + horizon)`.
- Reaching the outcome is an `application.step` to a step of the outcome's medal or a higher one
  (intake: bronze, silver or gold steps; proposed: silver or gold; placed: gold).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from connector.config import Medals, Scoring
from connector.details import ContactKind, Medal
from connector.events import APPLICATION_STEP, EventRecord, to_micros
from connector.scoring.engine import Rulebook
from connector.scoring.simulate import BANDS_HOT_FIRST, EMPTY

OUTCOMES = {"intake": Medal.BRONZE, "proposed": Medal.SILVER, "placed": Medal.GOLD}
# Below these, a figure is "not enough data" rather than a number that looks like a finding.
MIN_BAND = 30  # observations in a band for its outcome rate and lift
MIN_CLASS = 10  # outcomes, and non-outcomes, for the AUC
MIN_DECILES = 100  # observations (and MIN_CLASS outcomes) for the deciles and the top-decile lift
Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Observation:
    """One candidate at one snapshot: the score then, and whether the outcome followed in time."""

    snapshot: datetime
    contact_id: str
    score: int
    band: str
    outcome: bool


@dataclass(frozen=True, slots=True)
class BandRow:
    """A band's figures; rate, interval and lift are None below MIN_BAND observations."""

    band: str
    n: int
    outcomes: int
    rate: float | None
    low: float | None
    high: float | None
    lift: float | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The summary of a set of observations under one rule set."""

    n: int
    outcomes: int
    bands: tuple[BandRow, ...]
    auc: float | None
    top_decile_lift: float | None
    deciles: tuple[float, ...] | None  # outcome rate per score decile, highest scores first
    gains: tuple[tuple[float, float], ...]  # (share of population, share of outcomes), best first

    @property
    def base_rate(self) -> float | None:
        """The share of observations that reached the outcome; None without observations."""
        return self.outcomes / self.n if self.n else None


def outcome_steps(medals: Medals, outcome: str) -> frozenset[str]:
    """The application steps that count as reaching `outcome` (its medal's steps and higher ones)."""
    rank = OUTCOMES[outcome].rank
    by_medal = {Medal.BRONZE: medals.bronze, Medal.SILVER: medals.silver, Medal.GOLD: medals.gold}
    return frozenset(step for medal, steps in by_medal.items() if medal.rank >= rank for step in steps)


def snapshot_times(
    first: date, last: datetime, every: timedelta, horizon: timedelta, zone: str
) -> list[datetime]:
    """Local midnights from `first`, `every` apart, whose horizon has ended by `last` (else unknown)."""
    tz = ZoneInfo(zone)
    times: list[datetime] = []
    day = first
    step_days = max(1, every.days)
    while (at := datetime(day.year, day.month, day.day, tzinfo=tz)) + horizon <= last:
        times.append(at)
        day += timedelta(days=step_days)
    return times


def reached_at(records: Iterable[EventRecord], steps: frozenset[str]) -> int | None:
    """When (microseconds) the contact first moved to one of `steps`; None if never."""
    times = [r[0] for r in records if r[2] == APPLICATION_STEP and str(r[3].get("step")) in steps]
    return min(times) if times else None


def observe(
    contacts: Iterable[tuple[str, list[EventRecord]]],
    rule_sets: Sequence[tuple[Scoring, Medals]],
    snapshots: Sequence[datetime],
    steps: frozenset[str],
    horizon: timedelta,
) -> list[list[Observation]]:
    """The observations of each rule set, on the same snapshots, candidates and outcomes."""
    books = [[Rulebook(scoring, medals, at) for at in snapshots] for scoring, medals in rule_sets]
    cuts = [to_micros(at) for at in snapshots]
    span = horizon // timedelta(microseconds=1)
    found: list[list[Observation]] = [[] for _ in rule_sets]
    for contact_id, records in contacts:
        reached = reached_at(records, steps)
        ordered = sorted(records)
        for index, cut in enumerate(cuts):
            if reached is not None and reached < cut:
                continue  # past the outcome already: nothing left to predict
            before = [r for r in ordered if r[0] < cut]
            if not before:
                continue
            outcome = reached is not None and reached < cut + span
            for rules, rule_books in enumerate(books):
                state = rule_books[index].score_records(contact_id, before)
                if state.kind is not ContactKind.CANDIDATE:
                    break
                band = state.details.band.value if state.details.band else EMPTY
                score = state.details.score or 0
                found[rules].append(Observation(snapshots[index], contact_id, score, band, outcome))
    return found


def wilson(outcomes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = outcomes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def auc(observations: Sequence[Observation]) -> float | None:
    """The chance a random outcome scored above a random non-outcome (ties count half)."""
    positives = sum(o.outcome for o in observations)
    negatives = len(observations) - positives
    if positives < MIN_CLASS or negatives < MIN_CLASS:
        return None
    ranked = sorted(observations, key=lambda o: o.score)
    rank_sum = 0.0
    start = 0
    while start < len(ranked):
        end = start
        while end < len(ranked) and ranked[end].score == ranked[start].score:
            end += 1
        average_rank = (start + 1 + end) / 2  # ranks start + 1 .. end share their mean
        rank_sum += average_rank * sum(o.outcome for o in ranked[start:end])
        start = end
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def gains(observations: Sequence[Observation]) -> list[tuple[int, int]]:
    """The cumulative gains curve's corners: (observations, outcomes) taken, highest scores first.

    Equal scores form one step: between corners the curve is straight, which is what a random order
    among equal scores gives on average.
    """
    by_score: dict[int, list[int]] = {}
    for o in observations:
        counts = by_score.setdefault(o.score, [0, 0])
        counts[0] += 1
        counts[1] += o.outcome
    corners = [(0, 0)]
    for score in sorted(by_score, reverse=True):
        n, hits = by_score[score]
        corners.append((corners[-1][0] + n, corners[-1][1] + hits))
    return corners


def _captured(corners: list[tuple[int, int]], taken: float) -> float:
    """Outcomes among the first `taken` observations, interpolated inside a group of equal scores."""
    for (n0, h0), (n1, h1) in itertools.pairwise(corners):
        if taken <= n1:
            return h0 + (h1 - h0) * (taken - n0) / (n1 - n0)
    return float(corners[-1][1])


def summarise(observations: Sequence[Observation]) -> Evaluation:
    """Per band: n, rate with Wilson interval, lift; overall AUC, deciles and top-decile lift."""
    n = len(observations)
    outcomes = sum(o.outcome for o in observations)
    base = outcomes / n if n else 0.0
    rows = []
    for band in BANDS_HOT_FIRST:
        members = [o for o in observations if o.band == band]
        hits = sum(o.outcome for o in members)
        if len(members) < MIN_BAND:
            rows.append(BandRow(band, len(members), hits, None, None, None, None))
            continue
        rate = hits / len(members)
        low, high = wilson(hits, len(members))
        rows.append(BandRow(band, len(members), hits, rate, low, high, rate / base if base else None))
    corners = gains(observations)
    deciles: tuple[float, ...] | None = None
    top_lift = None
    if n >= MIN_DECILES and outcomes >= MIN_CLASS:
        tenth = n / 10
        deciles = tuple(
            (_captured(corners, tenth * (k + 1)) - _captured(corners, tenth * k)) / tenth for k in range(10)
        )
        top_lift = deciles[0] / base
    curve = tuple((taken / n, hits / outcomes) for taken, hits in corners) if n and outcomes else ()
    return Evaluation(n, outcomes, tuple(rows), auc(observations), top_lift, deciles, curve)
