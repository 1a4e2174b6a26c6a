"""Contact merges, the shell side: the keys of the loser's org records, then the ledger's merge."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import structlog

from connector.config.salesforce import ObjectMapping
from connector.ledger import Ledger
from connector.ledger.merges import merge_contacts
from connector.ledger.sync_state import shown_details
from connector.sync.web import child_rows

log = structlog.get_logger(__name__)


def merge_in_ledger(
    ledger: Ledger, mapping: ObjectMapping, merged: Mapping[str, str], now: datetime
) -> dict[str, str]:
    """Merge each loser (loser -> survivor) into its survivor in the ledger; return those merged now.

    Salesforce re-parents the loser's child records to the survivor, where they keep external ids made
    from the loser's id: their keys (score lines by rule, visits and job views from its web events) go
    on the loser's tombstone, so the cycle deletes them after the survivor's own records are written.
    """
    losers = list(merged)
    with ledger.transaction():
        events, states, shown = ledger.events_of(losers), ledger.states(losers), shown_details(ledger, losers)
        keys: dict[str, set[str]] = {}
        for loser in losers:
            rules = {*(states[loser].lines if loser in states else ()),
                     *(shown[loser].lines if loser in shown else ())}  # fmt: skip
            keys[loser] = {f"{loser}:{rule}" for rule in rules} | {
                row.write.key_value for row in child_rows([loser], events, mapping)
            }
        done = merge_contacts(ledger, merged, now, keys)
    if done:
        log.info("contacts_merged", contacts=len(done))
    return done
