"""Erasure reaching the org: delete the child records the connector made, clear an existing contact."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from connector.config.salesforce import ObjectMapping
from connector.details import DETAIL_NAMES, EMPTY_DETAILS, ErasureReason, RecordWrite
from connector.ledger import Ledger
from connector.ledger.erasure import (
    add_audit,
    cleared_in_org,
    erase_contacts,
    held_by_jobs,
    merged_keys,
    owed_to_org,
    tombstoned,
)
from connector.sf.port import OrgPort
from connector.sf.writer import Outcome, WriteResult, apply_plan, delete_records
from connector.shell.by_id import records_of_contacts, records_with_keys
from connector.sync.plan import ContactPlan, field_writes

log = structlog.get_logger(__name__)
DELETED = "ENTITY_IS_DELETED"  # clearing the fields of a contact deleted meanwhile: nothing to clear


@dataclass(frozen=True, slots=True)
class OrgErasure:
    """What an erasure did in the org: child records found and deleted, contacts cleared, refusals."""

    found: int = 0
    deleted: int = 0
    cleared: int = 0
    refused: int = 0
    stopped: str = ""


def _children(
    client: OrgPort, mapping: ObjectMapping, contacts: Sequence[str], keys: Mapping[str, Sequence[str]]
) -> list[RecordWrite]:
    """The score-line, visit and job-view records the org holds of these contacts, as deletes: found
    by contact, and for a merged contact also by the keys of its records (re-parented to the survivor)."""
    sl, v, j = mapping.score_line, mapping.website_visit, mapping.job_view
    found = records_of_contacts(client, [(sl.object, sl.contact), (v.object, v.contact),
                                         (j.object, j.contact)], contacts)  # fmt: skip
    if any(keys.values()):
        by_key = [(sl.object, sl.external_id), (v.object, v.external_id), (j.object, j.external_id)]
        seen = {w.key_value for w in found}
        found += [w for w in records_with_keys(client, by_key, keys) if w.key_value not in seen]
    return found


def _clears(mapping: ObjectMapping, contacts: Sequence[str]) -> list[RecordWrite]:
    """Every recruitment-detail field of each contact set to what an empty contact shows (the plan's
    own encoding: a new detail field is emptied too, a checkbox is unticked rather than nulled)."""
    empty = {name: getattr(EMPTY_DETAILS, name) for name in DETAIL_NAMES}
    return field_writes([ContactPlan(cid, empty, {}) for cid in contacts], mapping)


def erase_in_org(
    client: OrgPort, ledger: Ledger, mapping: ObjectMapping, now: datetime, *, dry_run: bool = False
) -> OrgErasure:
    """For every tombstone the org still owes: delete its child records and, when the contact still
    exists (anonymised, or erased on request), empty its recruitment-detail fields.

    A tombstone is settled only when all of it was accepted and no Bulk 2.0 job sent before the erasure
    is still running (it may hold the contact's writes); a refusal is kept on it and retried next
    cycle. Records are found by contact, so one written by a killed cycle is found too.
    """
    owed = owed_to_org(ledger)
    if not owed:
        return OrgErasure()
    contacts = [t.contact_id for t in owed]
    children = _children(client, mapping, contacts, merged_keys(ledger, contacts))
    if dry_run:
        return OrgErasure(found=len(children))
    # A deleted contact, merged or not, has no fields left to clear.
    gone = (ErasureReason.DELETED, ErasureReason.MERGED)
    live = [t.contact_id for t in owed if t.reason not in gone]
    deleted = delete_records(client, children)
    cleared = apply_plan(client, _clears(mapping, live)) if live and not deleted.stopped else WriteResult()
    errors: dict[str, str] = {}
    for result in (deleted, cleared):
        for o in result.outcomes:
            if o.outcome is not Outcome.ACCEPTED and o.error_code != DELETED:
                errors.setdefault(o.write.parent, o.error_code or o.outcome.value)
    missing = {w.parent for w in _clears(mapping, live)} - {o.write.parent for o in cleared.outcomes}
    errors.update(dict.fromkeys(missing - set(errors), "not_sent"))
    # A job sent before the erasure and not collected yet may still write the contact: not settled,
    # so a later cycle (after collecting it) finds and deletes what it wrote. No error: nothing refused.
    held = held_by_jobs(ledger, owed)
    done = [c for c in contacts if c not in errors and c not in held]
    cleared_in_org(ledger, done, {c: e for c, e in errors.items() if e != "not_sent"}, now)
    if errors:
        log.warning("erasure_in_org_incomplete", contacts=len(errors), codes=sorted(set(errors.values())))
    return OrgErasure(len(children), len(deleted.succeeded), len(done), len(errors),
                      deleted.stopped or cleared.stopped)  # fmt: skip


def erase_on_request(
    client: OrgPort, ledger: Ledger, mapping: ObjectMapping, contact_id: str, who: str, now: datetime,
    *, dry_run: bool = False,
) -> OrgErasure:  # fmt: skip
    """A data subject's erasure, handled by an admin: audit, tombstone and purge, then the org's part.

    With `dry_run` nothing is written anywhere: the answer says what the org holds of the contact.
    """
    if dry_run:
        return OrgErasure(found=len(_children(client, mapping, [contact_id], {})))
    with ledger.transaction():
        if not tombstoned(ledger, [contact_id]):
            audit = add_audit(ledger, now, who, "erase", {"reason": ErasureReason.MANUAL.value})
            erase_contacts(ledger, {contact_id: ErasureReason.MANUAL}, now, audit_id=audit)
    log.info("erase_requested", who=who)
    return erase_in_org(client, ledger, mapping, now)
