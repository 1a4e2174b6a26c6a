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
from collections.abc import Iterable, Iterator, Sequence
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


def each_observation(
    contacts: Iterable[tuple[str, list[EventRecord]]],
    rule_sets: Sequence[tuple[Scoring, Medals]],
    snapshots: Sequence[datetime],
    steps: frozenset[str],
    horizon: timedelta,
) -> Iterator[tuple[int, Observation]]:
    """(rule set index, observation) for each rule set, on the same snapshots, candidates and outcomes."""
    books = [[Rulebook(scoring, medals, at) for at in snapshots] for scoring, medals in rule_sets]
    cuts = [to_micros(at) for at in snapshots]
    span = horizon // timedelta(microseconds=1)
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
                yield rules, Observation(snapshots[index], contact_id, score, band, outcome)


def observe(
    contacts: Iterable[tuple[str, list[EventRecord]]],
    rule_sets: Sequence[tuple[Scoring, Medals]],
    snapshots: Sequence[datetime],
    steps: frozenset[str],
    horizon: timedelta,
) -> list[list[Observation]]:
    """The observations of each rule set as lists (see `each_observation`)."""
    found: list[list[Observation]] = [[] for _ in rule_sets]
    for rules, observation in each_observation(contacts, rule_sets, snapshots, steps, horizon):
        found[rules].append(observation)
    return found


class Tally:
    """Observations counted by (score, band): all the summary needs, in memory the size of the scores."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, str], list[int]] = {}

    def add(self, observation: Observation) -> None:
        """Count one observation."""
        counts = self.counts.setdefault((observation.score, observation.band), [0, 0])
        counts[0] += 1
        counts[1] += observation.outcome

    def by_score(self) -> dict[int, tuple[int, int]]:
        """(observations, outcomes) per score."""
        found: dict[int, list[int]] = {}
        for (score, _), (n, hits) in self.counts.items():
            counts = found.setdefault(score, [0, 0])
            counts[0] += n
            counts[1] += hits
        return {score: (n, hits) for score, (n, hits) in found.items()}

    def by_band(self, band: str) -> tuple[int, int]:
        """(observations, outcomes) in a band."""
        pairs = [counts for (_, b), counts in self.counts.items() if b == band]
        return sum(n for n, _ in pairs), sum(h for _, h in pairs)


def tally(observations: Iterable[Observation]) -> Tally:
    """Count observations."""
    counted = Tally()
    for observation in observations:
        counted.add(observation)
    return counted


def wilson(outcomes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = outcomes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def auc(observations: Iterable[Observation] | Tally) -> float | None:
    """The chance a random outcome scored above a random non-outcome (ties count half)."""
    by_score = (observations if isinstance(observations, Tally) else tally(observations)).by_score()
    positives = sum(hits for _, hits in by_score.values())
    negatives = sum(n for n, _ in by_score.values()) - positives
    if positives < MIN_CLASS or negatives < MIN_CLASS:
        return None
    rank_sum = 0.0
    below = 0
    for score in sorted(by_score):
        n, hits = by_score[score]
        rank_sum += (below + (n + 1) / 2) * hits  # ranks below + 1 .. below + n share their mean
        below += n
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def gains(observations: Iterable[Observation] | Tally) -> list[tuple[int, int]]:
    """The cumulative gains curve's corners: (observations, outcomes) taken, highest scores first.

    Equal scores form one step: between corners the curve is straight, which is what a random order
    among equal scores gives on average.
    """
    by_score = (observations if isinstance(observations, Tally) else tally(observations)).by_score()
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


def summarise(observations: Iterable[Observation] | Tally) -> Evaluation:
    """Per band: n, rate with Wilson interval, lift; overall AUC, deciles and top-decile lift."""
    counted = observations if isinstance(observations, Tally) else tally(observations)
    corners = gains(counted)
    n, outcomes = corners[-1]
    base = outcomes / n if n else 0.0
    rows = []
    for band in BANDS_HOT_FIRST:
        members, hits = counted.by_band(band)
        if members < MIN_BAND:
            rows.append(BandRow(band, members, hits, None, None, None, None))
            continue
        rate = hits / members
        low, high = wilson(hits, members)
        rows.append(BandRow(band, members, hits, rate, low, high, rate / base if base else None))
    deciles: tuple[float, ...] | None = None
    top_lift = None
    if n >= MIN_DECILES and outcomes >= MIN_CLASS:
        tenth = n / 10
        deciles = tuple(
            (_captured(corners, tenth * (k + 1)) - _captured(corners, tenth * k)) / tenth for k in range(10)
        )
        top_lift = deciles[0] / base
    curve = tuple((taken / n, hits / outcomes) for taken, hits in corners) if n and outcomes else ()
    return Evaluation(n, outcomes, tuple(rows), auc(counted), top_lift, deciles, curve)
