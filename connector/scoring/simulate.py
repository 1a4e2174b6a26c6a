"""Compare two scorings of the same contacts: band shifts, medal changes, largest score moves."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from connector.details import Band, Medal
from connector.scoring.model import ContactState

EMPTY = "no score"  # a contact with events but no points (yet): no band


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """One contact's score under the current and the proposed rules."""

    contact_id: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        """Signed difference, after minus before."""
        return self.after - self.before


@dataclass
class Simulation:
    """What switching rules would do; built by `compare`."""

    contacts: int = 0
    changed: int = 0
    band_shifts: dict[tuple[str, str], int] = field(default_factory=dict)
    medal_changes: dict[tuple[str, str], int] = field(default_factory=dict)
    medals_lowered: int = 0
    largest: list[ScoreChange] = field(default_factory=list)


def _band(state: ContactState) -> str:
    return state.details.band.value if state.details.band else EMPTY


def _medal(medal: Medal | None) -> str:
    return medal.value if medal else "none"


def compare(pairs: Iterable[tuple[ContactState, ContactState]], top: int = 20) -> Simulation:
    """Summarise (current, proposed) pairs of the same contacts."""
    sim = Simulation()
    heap: list[tuple[int, str, ScoreChange]] = []
    for before, after in pairs:
        sim.contacts += 1
        if before.details != after.details:
            sim.changed += 1
        key = (_band(before), _band(after))
        sim.band_shifts[key] = sim.band_shifts.get(key, 0) + 1
        old, new = before.details.medal, after.details.medal
        if old != new:
            pair = (_medal(old), _medal(new))
            sim.medal_changes[pair] = sim.medal_changes.get(pair, 0) + 1
            if (old.rank if old else 0) > (new.rank if new else 0):
                sim.medals_lowered += 1
        change = ScoreChange(before.contact_id, before.details.score or 0, after.details.score or 0)
        if change.delta:
            item = (abs(change.delta), change.contact_id, change)
            if len(heap) < top:
                heapq.heappush(heap, item)
            else:
                heapq.heappushpop(heap, item)
    sim.largest = [item[2] for item in sorted(heap, key=lambda i: (-i[0], i[1]))]
    return sim


BANDS_HOT_FIRST = [b.value for b in (Band.HOT, Band.WARM, Band.LUKEWARM, Band.COLD)] + [EMPTY]
