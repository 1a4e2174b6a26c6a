"""Contact merges in the ledger: the loser's history moves to the survivor, the loser is tombstoned."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime
from functools import reduce

from connector.details import ErasureReason, higher_medal
from connector.ledger.consent import consented
from connector.ledger.erasure import erase_contacts, tombstoned
from connector.ledger.store import Ledger
from connector.ledger.sync_state import shown_details

# What moves: every event but the loser's own `contact.updated` (kind and consent are the survivor's
# answer); web events only to a survivor that consented to tracking.
_MOVE = (
    "INSERT OR IGNORE INTO events (contact_id, id, kind, at, attrs) SELECT ?, id, kind, at, attrs"
    " FROM events WHERE contact_id = ? AND kind != 'contact.updated'"
)
_MOVE_VISITORS = "UPDATE pixel_visitors SET contact_id = ? WHERE contact_id = ? AND shared = 0"
_MOVE_PENDING = "UPDATE pixel_pending SET contact_id = ? WHERE contact_id = ?"
_MOVE_DAY_VISITS = "UPDATE pixel_day_visits SET contact_id = ? WHERE contact_id = ?"  # the survivor's caps
_MOVE_EVIDENCE = (
    "UPDATE consent_changes SET contact_id = ?, source = source || ' (merged)' WHERE contact_id = ?"
)


def final_survivor(ledger: Ledger, contact_id: str, merged: Mapping[str, str]) -> str:
    """The contact a chain of merges ends at (A into B, B into C: C), through this batch and earlier ones."""
    seen = {contact_id}
    current = contact_id
    while True:
        nxt = merged.get(current)
        if nxt is None:
            row = ledger.db.execute(
                "SELECT merged_into FROM tombstones WHERE contact_id = ?", [current]
            ).fetchone()
            nxt = str(row[0]) if row and row[0] else None
        if nxt is None or nxt in seen:
            return current
        seen.add(nxt)
        current = nxt


def _keys_of(ledger: Ledger, loser: str, extra: Collection[str]) -> list[str]:
    """External ids of records the org may hold keyed to the loser: those it accepted, those written
    (a killed cycle's too, as far as the ledger knows), and the ones its events and lines give."""
    children = "SELECT external_id FROM org_children WHERE contact_id = ?"
    written = "SELECT record_key FROM org_written WHERE contact_id = ? AND record_key != contact_id"
    found = {str(r[0]) for sql in (children, written) for r in ledger.db.execute(sql, [loser])}
    return sorted(found | set(extra))


def merge_contacts(
    ledger: Ledger, merged: Mapping[str, str], at: datetime, keys: Mapping[str, Collection[str]]
) -> dict[str, str]:
    """Move each loser's history to its survivor, keep the best medal and earliest dates of both, and
    tombstone the loser as merged with the keys of its org records (`keys`: loser -> external ids its
    events and lines give). Returns the losers merged now (loser -> final survivor), in one transaction.

    Event ids carry no contact, so an event both hold, or one read again under the survivor, is one row.
    """
    done: dict[str, str] = {}
    with ledger.transaction():
        conn = ledger.db.conn
        fresh = [loser for loser in merged if loser not in tombstoned(ledger, [loser])]
        for loser in fresh:
            survivor = final_survivor(ledger, merged[loser], merged)
            if survivor == loser:
                continue
            tracked = survivor in consented(ledger, [survivor])
            web = "" if tracked else " AND kind NOT LIKE 'web.%'"
            conn.execute(_MOVE + web, [survivor, loser])
            if tracked:  # the survivor said yes: the loser's visitor links and open visits are its own now,
                # with the evidence of the answers its web data was collected under
                for sql in (_MOVE_VISITORS, _MOVE_PENDING, _MOVE_DAY_VISITS, _MOVE_EVIDENCE):
                    conn.execute(sql, [survivor, loser])
            if _fold_state(ledger, loser, survivor, at):  # moved events mark it dirty by themselves
                ledger.mark_dirty([survivor])
            org_keys = _keys_of(ledger, loser, keys.get(loser, ()))
            erase_contacts(ledger, {loser: ErasureReason.MERGED}, at)
            conn.execute(
                "UPDATE tombstones SET merged_into = ?, org_keys = ? WHERE contact_id = ?",
                [survivor, json.dumps(org_keys), loser],
            )
            done[loser] = survivor
    return done


def _fold_state(ledger: Ledger, loser: str, survivor: str, at: datetime) -> bool:
    """The survivor's stored details never below the loser's: the best medal, the earliest first dates.

    What the org shows on the survivor still stands over this, as any value set there by hand does
    (the admin who merged picked those values), in the re-score's one monotone merge.
    """
    states, shown = ledger.states([loser, survivor]), shown_details(ledger, [loser])
    mine, theirs = states.get(survivor), states.get(loser)
    if mine is not None:
        base = mine
    elif theirs is not None:
        base = replace(theirs, contact_id=survivor, lines={})
    else:
        return False
    found = [s.details for s in (mine, theirs) if s is not None]
    if loser in shown:
        found.append(shown[loser].details)
    details = replace(
        base.details,
        medal=reduce(higher_medal, (d.medal for d in found), None),
        first_qualified_on=min((d.first_qualified_on for d in found if d.first_qualified_on), default=None),
        first_placed_on=min((d.first_placed_on for d in found if d.first_placed_on), default=None),
    )
    if details == base.details and mine is not None:
        return False
    ledger.save_states([replace(base, details=details)], at)
    return True
