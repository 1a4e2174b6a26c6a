"""What the org holds of the records the connector writes, against what the ledger confirmed. Pure.

The org is the truth the plan diffs against, with one exception: a read older than the connector's own
accepted write of a record shows the version from before that write (a query under commit lag), so it
never replaces what the write confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from connector.config.salesforce import ScoreLineFields
from connector.details import LineFacts, ShownDetails
from connector.events import parse_time
from connector.sync.changes import Record
from connector.sync.sources import org_day
from connector.sync.web import ChildSpec, org_digest


def older_than_write(record: Record, written: datetime | None) -> bool:
    """Whether a read shows a version from before the connector's accepted write of its record.

    `written` is the start of the cycle whose write the org accepted: the write came at or after it,
    and row locks order the versions of one record, so a version stamped in an earlier second is
    older. SystemModstamp has whole seconds: a read from that same second may be a newer edit and
    counts as current (at worst one redundant write), never the other way round.
    """
    if written is None:
        return False
    try:
        stamp = parse_time(record.get("SystemModstamp"))
    except ValueError:
        return False  # without a stamp nothing says it is older: the org's value stands
    return stamp < written.replace(microsecond=0)


def current_reads(
    records: Iterable[Record], written: Mapping[str, datetime], key: str = "Id"
) -> tuple[list[Record], int]:
    """The reads not older than the accepted write of their record (by `key`), and how many were."""
    current: list[Record] = []
    older = 0
    for record in records:
        if older_than_write(record, written.get(str(record.get(key)))):
            older += 1
        else:
            current.append(record)
    return current, older


def _org_line(record: Record, fields: ScoreLineFields, contact: str, rule: str) -> LineFacts | None:
    """The line a score-line record holds for (contact, rule); None when it holds no such line."""
    points = _whole(record.get(fields.points))
    if (
        record.get("IsDeleted")
        or str(record.get(fields.contact) or "")[:15] != contact[:15]
        or record.get(fields.rule) != rule
        or points is None
    ):
        return None
    # A fact in a form we never write reads as None: unequal to a fact the ledger knows, so it is rewritten.
    return LineFacts(
        points,
        _whole(record.get(fields.events)),
        org_day(record.get(fields.last_event_on)),
        org_day(record.get(fields.lapses_on)),
    )


def _whole(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        return None
    return int(value)


def line_reads(
    records: Iterable[Record], fields: ScoreLineFields, shown: Mapping[str, ShownDetails]
) -> list[ShownDetails]:
    """Contacts whose score lines in the org differ from the lines the ledger confirmed, with the
    lines as the org holds them: a line deleted or not as we wrote it is left out, so it is planned.

    Records come in SystemModstamp order, so a line read twice (deleted, then re-created) ends as
    the later read says. Lines of contacts without a shown row are not ours to judge.
    """
    lines: dict[str, dict[str, LineFacts]] = {}
    for record in records:
        contact, _, rule = str(record.get(fields.external_id) or "").partition(":")
        if contact not in shown or not rule:
            continue
        mine = lines.setdefault(contact, dict(shown[contact].lines))
        line = _org_line(record, fields, contact, rule)
        if line is None:
            mine.pop(rule, None)
        else:
            mine[rule] = line
    return [replace(shown[c], lines=held) for c, held in lines.items() if held != dict(shown[c].lines)]


@dataclass(frozen=True)
class ChildReads:
    """Child records whose org version differs from what the org last accepted from us."""

    differ: dict[str, tuple[str, str]] = field(default_factory=dict)  # external id -> (contact, hash)
    gone: list[str] = field(default_factory=list)  # external ids deleted in the org
    contacts: list[str] = field(default_factory=list)  # whose web write-back must run again


def child_reads(
    records: Iterable[Record], spec: ChildSpec, confirmed: Mapping[str, tuple[str, str]]
) -> ChildReads:
    """Compare reads with what the org accepted (`confirmed`: external id -> (contact, hash)).

    Only records we wrote are judged; the latest read of an external id decides (SystemModstamp order).
    """
    held: dict[str, str | None] = {}  # external id -> hash of the org's version; None when deleted
    for record in records:
        ext = str(record.get(spec.external_id) or "")
        if ext in confirmed:
            held[ext] = None if record.get("IsDeleted") else org_digest(spec, record)
    reads = ChildReads()
    for ext, digest in held.items():
        contact, accepted = confirmed[ext]
        if digest == accepted:
            continue
        if digest is None:
            reads.gone.append(ext)
        else:
            reads.differ[ext] = (contact, digest)
        if contact not in reads.contacts:
            reads.contacts.append(contact)
    return reads
