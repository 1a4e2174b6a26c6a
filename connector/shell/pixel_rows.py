"""The pixel room's state as the ledger's rows and back, and the part of it a run loads."""

from __future__ import annotations

from datetime import date

from connector.ledger import Ledger
from connector.ledger.pixel_state import DayRow, PendingRow, StoredPixelState, load_pixel_state
from connector.pixel.hits import Hit
from connector.pixel.identity import PendingHit
from connector.pixel.pipeline import PixelState
from connector.pixel.sessions import DayVisit
from connector.pixel.sources import FileMark


def to_pixel_state(stored: StoredPixelState) -> PixelState:
    """The ledger's rows as the pixel room's state."""
    return PixelState(
        files={row[0]: FileMark(*row) for row in stored.files},
        links=dict(stored.links),
        shared=stored.shared,
        pending=tuple(
            PendingHit(hit_id, contact, Hit(at, url, referrer, visitor_id=visitor))
            for hit_id, contact, visitor, at, url, referrer in stored.pending
        ),
        day_visits=tuple(
            DayVisit(visit_id, contact, date.fromisoformat(day), visitor)
            for visit_id, contact, day, visitor in stored.day_visits
        ),
    )


def to_stored(
    state: PixelState,
    scope: frozenset[PendingRow] | None = None,
    day_scope: frozenset[DayRow] | None = None,
) -> StoredPixelState:
    """The pixel room's state as the ledger's rows, replacing the pending rows of `scope`."""
    return StoredPixelState(
        files=[(m.key, m.path, m.offset, m.head, m.head_len) for m in state.files.values()],
        links=state.links,
        shared=state.shared,
        pending=[
            (p.id, p.contact_id, p.hit.visitor_id, p.hit.at, p.hit.url, p.hit.referrer) for p in state.pending
        ],
        scope=scope,
        day_visits=[(v.visit_id, v.contact_id, v.day.isoformat(), v.visitor_id) for v in state.day_visits],
        day_scope=day_scope,
    )


Scope = tuple[frozenset[PendingRow] | None, frozenset[DayRow] | None]


def load_state(ledger: Ledger, hits: list[Hit]) -> tuple[PixelState, Scope]:
    """The state a run over `hits` needs (pending hits of their visitors and of open visits, the day
    caps' counts from the run's first day)."""
    earliest = min((hit.at for hit in hits), default=None)
    stored = load_pixel_state(ledger, {hit.visitor_id for hit in hits}, earliest)
    return to_pixel_state(stored), (stored.scope, stored.day_scope)
