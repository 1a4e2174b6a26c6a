"""Who a hit belongs to: signed contact tokens, visitor links and retroactive attribution.

A token in a tracked link (`?mt=...`) names a contact and is signed (see `tokens`). A valid token
links the hit's visitor cookie to that contact; the visitor's earlier anonymous hits within the
attribution window are then credited too. A visitor seen with two different contacts is a shared
computer: it is unlinked and its anonymous hits are credited to nobody from then on.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter, itemgetter
from typing import NamedTuple

from connector.pixel.hits import Hit, Reason
from connector.pixel.tokens import Keyring, sign_token, verify_token

__all__ = ["Attribution", "Credited", "Keyring", "PendingHit", "attribute", "sign_token", "verify_token"]


class PendingHit(NamedTuple):
    """A hit kept between runs: anonymous (no contact yet) or credited but in a visit still open."""

    # A NamedTuple, like Hit: a run may keep most of its hits (anonymous ones wait for their visitor
    # to become known), so making one must cost little and its id is made only when asked for.
    known_id: str  # the id stored with it; '' for a hit of this run (derived from `hit` on demand)
    contact_id: str  # '' while anonymous
    hit: Hit  # stored without address, agent or token: only what a visit needs is kept

    @property
    def id(self) -> str:
        """The hit's id (stored, or derived from the full hit it was read as)."""
        return self.known_id or self.hit.id

    @classmethod
    def of(cls, hit: Hit, contact_id: str = "", hit_id: str = "") -> PendingHit:
        """Keep `hit` for later (`hit_id`: its id, when known); storing keeps only what a visit needs."""
        return _new_pending(cls, (hit_id, contact_id, hit))


_new_pending: Callable[[type[PendingHit], tuple[str, str, Hit]], PendingHit] = tuple.__new__


class Credited(NamedTuple):
    """A hit credited to a contact; `new` when it came from a line read in this run."""

    contact_id: str
    hit: Hit
    new: bool
    known_id: str = ""  # the hit's id when already known (kept hits); '' to make it when asked

    @property
    def id(self) -> str:
        """The hit's id. Made on demand: most credited hits of a run are dropped for want of consent."""
        return self.known_id or self.hit.id


@dataclass
class Attribution:
    """What `attribute` decided: credited hits, hits still waiting, updated links, counts."""

    credited: list[Credited] = field(default_factory=list)
    waiting: list[PendingHit] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    shared: set[str] = field(default_factory=set)
    rejected: Counter[Reason] = field(default_factory=Counter)  # lines of this run only
    waiting_new: int = 0  # lines of this run now waiting for their visitor to become known
    expired: int = 0  # waiting hits of earlier runs that aged out of the window
    newly_shared: list[str] = field(default_factory=list)


def attribute(
    hits: Iterable[Hit],
    waiting: Iterable[PendingHit],
    links: Mapping[str, str],
    shared: Iterable[str],
    *,
    secret: bytes | Keyring | None,
    now: datetime,
    window: timedelta,
) -> Attribution:
    """Credit hits to contacts by token and visitor link, oldest first per visitor (pure).

    `waiting`: the anonymous hits kept from earlier runs (no contact yet).
    """
    out = Attribution(links=dict(links), shared=set(shared))
    keys = Keyring((secret,)) if isinstance(secret, bytes) else secret
    hits = hits if isinstance(hits, list) else list(hits)
    waiting = waiting if isinstance(waiting, list) else list(waiting)
    # Tokens count only with a secret.
    with_token = {hit.visitor_id for hit in hits if hit.token} if secret is not None else set()
    if secret is not None:
        with_token.update(p.hit.visitor_id for p in waiting if p.hit.token)
    # Most visitors of a run carry a cookie never linked, no token and no shared mark: none of their
    # hits can be credited now, so they wait (or age out) as they are, without a walk per visitor.
    # The walk is for the others ("careful"): a token, a link, a shared cookie, or no cookie at all.
    careful = {
        visitor
        for visitor in set(map(_VISITOR, hits)).union(map(_PENDING_VISITOR, waiting))
        if visitor in out.links or visitor in out.shared
    }
    careful.update(with_token)
    careful.add("")
    cutoff = _cutoff(now, window)
    ordered = sorted(hits, key=_AT)  # stable, and cheap: a log is nearly in time order
    _wait(out, [hit for hit in ordered if hit.visitor_id not in careful], waiting, careful, cutoff)
    # The careful visitors in the order they first appear (the order of the results), each with its
    # hits by time from the one sort above, then the kept hits of earlier runs.
    per_visitor: dict[str, list[tuple[Hit, bool, str]]] = {
        visitor: [] for visitor in dict.fromkeys([v for v in map(_VISITOR, hits) if v in careful])
    }
    for hit in ordered:
        if hit.visitor_id in careful:
            per_visitor[hit.visitor_id].append((hit, True, ""))
    with_pending: set[str] = set()
    for pending in waiting:
        visitor = pending.hit.visitor_id
        if visitor in careful:
            per_visitor.setdefault(visitor, []).append((pending.hit, False, pending.known_id))
            with_pending.add(visitor)
    for visitor, items in per_visitor.items():
        if visitor in with_pending:
            items.sort(key=_ITEM_AT)  # stable: this run's hits stay ahead of kept ones at equal times
        _walk(out, visitor, items, keys, window, cutoff)
    return out


def _wait(
    out: Attribution,
    hits: list[Hit],
    waiting: list[PendingHit],
    careful: set[str],
    cutoff: datetime | None,
) -> None:
    """Hits of visitors who cannot be credited in this run: kept, or aged out of the window."""
    aged = 0 if cutoff is None else bisect_left(hits, cutoff, key=_AT)  # `hits` is in time order
    if aged:
        out.rejected[Reason.UNKNOWN_VISITOR] += aged
    out.waiting.extend([_new_pending(PendingHit, ("", "", hit)) for hit in hits[aged:]])
    out.waiting_new += len(hits) - aged
    for pending in waiting:
        if pending.hit.visitor_id in careful:
            continue
        if cutoff is not None and pending.hit.at < cutoff:
            out.expired += 1
        else:
            out.waiting.append(pending)


_VISITOR = attrgetter("visitor_id")


def _PENDING_VISITOR(pending: PendingHit) -> str:  # noqa: N802 - a key function, named like _AT
    return pending.hit.visitor_id


_AT = attrgetter("at")


def _ITEM_AT(item: tuple[Hit, bool, str]) -> datetime:  # noqa: N802 - a sort key, named like _AT
    return item[0].at


_IS_NEW = itemgetter(1)


def _cutoff(now: datetime, window: timedelta) -> datetime | None:
    """The earliest time still inside the window (`now - at <= window`); None when before all time."""
    try:
        return now - window
    except OverflowError:
        return None


def _walk(
    out: Attribution,
    visitor: str,
    items: list[tuple[Hit, bool, str]],
    keys: Keyring | None,
    window: timedelta,
    cutoff: datetime | None,
) -> None:
    """Credit one careful visitor's hits (a token, a link, a shared cookie, or no cookie), by time."""
    is_shared = visitor in out.shared
    link = out.links.get(visitor) if visitor and not is_shared else None
    anonymous: list[tuple[Hit, bool, str]] = []

    def credit(contact: str, hit: Hit, new: bool, hit_id: str) -> None:
        out.credited.append(Credited(contact, hit, new, hit_id))

    def unknown(new: bool) -> None:
        if new:
            out.rejected[Reason.UNKNOWN_VISITOR] += 1
        else:
            out.expired += 1

    for hit, new, hit_id in items:
        contact = None
        if hit.token and keys is not None:
            checked = keys.check(hit.token, hit.at)
            if isinstance(checked, Reason):
                out.rejected[checked] += 1  # forged or expired: the line counts for nothing
                continue
            contact = checked
        if contact is not None:
            credit(contact, hit, new, hit_id)
            if not visitor or is_shared:
                continue
            if link is None:
                link = contact
                for earlier, was_new, earlier_id in anonymous:
                    if hit.at - earlier.at <= window:
                        credit(contact, earlier, was_new, earlier_id)
                    else:
                        unknown(was_new)
                anonymous = []
            elif link != contact:
                # Two people behind one cookie: stop merging rather than guess who browsed.
                is_shared, link = True, None
                out.newly_shared.append(visitor)
        elif link is not None:
            credit(link, hit, new, hit_id)
        elif not visitor or is_shared:
            unknown(new)
        else:
            anonymous.append((hit, new, hit_id))
    if anonymous:
        # `anonymous` is in time order, so the hits out of the window are a prefix of it.
        aged = 0 if cutoff is None else bisect_left(anonymous, cutoff, key=_ITEM_AT)
        if aged:
            new_lines = sum(map(_IS_NEW, anonymous[:aged]))
            if new_lines:
                out.rejected[Reason.UNKNOWN_VISITOR] += new_lines
            out.expired += aged - new_lines
        kept = anonymous[aged:] if aged else anonymous
        out.waiting.extend([_new_pending(PendingHit, (hit_id, "", hit)) for hit, _, hit_id in kept])
        out.waiting_new += sum(map(_IS_NEW, kept))
    if is_shared:
        out.shared.add(visitor)
        out.links.pop(visitor, None)
    elif link is not None:
        out.links[visitor] = link
