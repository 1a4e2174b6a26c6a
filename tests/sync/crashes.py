"""A ledger that dies at a chosen commit boundary, standing in for SIGKILL, and an org snapshot to compare."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.emulator.org import Emulator
from connector.ledger import Ledger
from connector.shell.cycle import run_cycle

if TYPE_CHECKING:
    from .conftest import Org


class Crash(BaseException):
    """The process died here: no `except Exception` of ours catches it, and nothing is written after."""


class CrashingLedger(Ledger):
    """A ledger that counts its commits and dies at the start of commit number `crash_at + 1`.

    Everything before that commit happened (including HTTP calls to the org), nothing after it does:
    once dead, every further write raises `Crash` too, as a killed process writes nothing more.
    """

    def __init__(self, path: Path, crash_at: int | None = None) -> None:
        self.crash_at = crash_at
        self.commits = 0
        self.dead = False
        super().__init__(path)

    @contextmanager
    def transaction(self) -> Iterator[Ledger]:
        """The ledger's unit of work, with the kill switch at its start."""
        outermost = not self.db.conn.in_transaction
        if self.dead or (outermost and self.commits == self.crash_at):
            self.dead = True
            raise Crash
        with super().transaction():
            yield self
        if outermost:
            self.commits += 1


def cycle_killed_at(org: Org, crash_at: int, after_seconds: float = 120) -> bool:
    """One cycle against `org` that dies at the start of its commit number `crash_at + 1` (a kill);
    return whether it died. A test that counts `crash_at` up until it did not has killed the cycle at
    each of its commits."""
    dying = CrashingLedger(org.ledger.path, crash_at)
    try:
        run_cycle(org.client, dying, org.settings, org.em.org.advance(after_seconds))
    except Crash:
        return True
    finally:
        dying.close()
    return False


def org_snapshot(org: Emulator, names: dict[str, str]) -> dict[str, Any]:
    """What a recruiter sees, by contact name (ids differ between orgs): details, lines, visits, views.

    Also counts child records per external id, so a duplicate shows as a difference.
    """

    def name(contact_id: object) -> str:
        return names.get(str(contact_id), str(contact_id))

    fields = ("Lead_Score__c", "Lead_Score_Band__c", "Medal__c", "Date_First_Qualification__c",
              "Date_First_Placement__c")  # fmt: skip
    contacts = {
        name(c["Id"]): tuple(c.get(f) for f in fields)
        for c in org.records("Contact")
        if str(c["Id"]) in names
    }
    lines = sorted(
        (name(r["Contact__c"]), r["Rule__c"], r["Points__c"]) for r in org.records("Lead_Score_Line__c")
    )
    visits = sorted((name(r["Contact__c"]), r["Pages__c"]) for r in org.records("Website_Visit__c"))
    views = sorted((name(r["Contact__c"]), r["View_Count__c"]) for r in org.records("Website_Job_View__c"))
    per_key = Counter(
        r["External_Id__c"]
        for obj in ("Lead_Score_Line__c", "Website_Visit__c", "Website_Job_View__c")
        for r in org.records(obj)
    )
    return {
        "contacts": contacts,
        "lines": lines,
        "visits": visits,
        "job views": views,
        "duplicates": sorted(key for key, n in per_key.items() if n > 1),
    }
