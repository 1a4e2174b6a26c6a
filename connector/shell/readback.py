"""Reading back the child records the connector writes: score lines, website visits, job views.

What the org holds is the diff base: a record edited or deleted in the org (by hand, or by a request of
a killed client that committed after our newer write) differs from what the ledger confirmed and is
planned again. Each object costs one windowed queryAll a cycle, like any source, with its cursor
committed together with what the read changed; an object the connector never wrote costs nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from connector.config import Settings
from connector.config.salesforce import ScoreLineFields
from connector.events import format_time
from connector.ledger import Ledger
from connector.ledger.sync_state import (
    confirmed_children,
    has_written,
    reopen_children,
    save_shown,
    shown_details,
    written_at,
)
from connector.sf.port import OrgPort
from connector.sf.readers import Source, Window, read_window
from connector.shell.gather import source_window
from connector.shell.sources import mapping_of
from connector.sync.changes import Record
from connector.sync.readback import child_reads, current_reads, line_reads
from connector.sync.web import ChildSpec, web_specs


@dataclass
class ReadBack:
    """Records read back per object (by the names a cycle reports), and what they showed."""

    fetched: dict[str, int] = field(default_factory=dict)
    oddities: Counter[str] = field(default_factory=Counter)


def read_back(client: OrgPort, ledger: Ledger, settings: Settings, now: datetime) -> ReadBack:
    """Read back from the org each child object the connector has written; re-plan what differs."""
    mapping = mapping_of(settings)
    report = ReadBack()
    if has_written(ledger, mapping.score_line.object):
        _lines(client, ledger, mapping.score_line, now, report)
    visits, views = web_specs(mapping)
    for label, spec in (("website visits", visits), ("job views", views)):
        if has_written(ledger, spec.object):
            _children(client, ledger, spec, label, now, report)
    return report


def _read(
    client: OrgPort, ledger: Ledger, label: str, source: Source, key: str, now: datetime, report: ReadBack
) -> tuple[str, Window, list[Record]]:
    """One window of an object (cursor name, window, reads), leaving out the reads older than our
    accepted write of their record."""
    name = f"sf:readback:{source.object}"
    window = source_window(client, ledger, name, now)
    records = list(read_window(client, source, window))
    written = written_at(ledger, source.object, [str(r.get(key)) for r in records])
    current, older = current_reads(records, written, key)
    report.fetched[label] = len(records)
    if older:
        report.oddities["older_than_our_write"] += older
    return name, window, current


def _lines(client: OrgPort, ledger: Ledger, sl: ScoreLineFields, now: datetime, report: ReadBack) -> None:
    source = Source(sl.object, (sl.external_id, sl.contact, sl.rule, sl.points, sl.events,
                                sl.last_event_on, sl.lapses_on))  # fmt: skip
    name, window, records = _read(client, ledger, "score lines", source, sl.external_id, now, report)
    contacts = dict.fromkeys(str(r.get(sl.external_id) or "").partition(":")[0] for r in records)
    changed = line_reads(records, sl, shown_details(ledger, contacts))
    with ledger.transaction():
        save_shown(ledger, changed, now)
        ledger.set_cursor(name, format_time(window.end), now)
    if changed:
        report.oddities["contacts_changed_in_org"] += len(changed)


def _children(
    client: OrgPort, ledger: Ledger, spec: ChildSpec, label: str, now: datetime, report: ReadBack
) -> None:
    source = Source(spec.object, spec.fields)
    name, window, records = _read(client, ledger, label, source, spec.external_id, now, report)
    reads = child_reads(
        records, spec, confirmed_children(ledger, [str(r.get(spec.external_id)) for r in records])
    )
    with ledger.transaction():
        reopen_children(ledger, reads.differ, reads.gone, reads.contacts)
        ledger.set_cursor(name, format_time(window.end), now)
    if reads.contacts:
        report.oddities["contacts_changed_in_org"] += len(reads.contacts)
