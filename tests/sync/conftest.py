"""A frozen-clock emulator, connector settings pointed at it, a client and a ledger for cycle tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.config import Settings, load_settings
from connector.emulator.org import OrgSettings
from connector.emulator.testing import RunningEmulator, running_emulator
from connector.emulator.values import Clock
from connector.ledger import Ledger
from connector.sf.client import SalesforceClient
from connector.shell.cycle import CycleReport, run_cycle

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
# The emulator's names of the endpoints that write (`emulator/rest.py`, `emulator/bulk.py`).
WRITES = ("collections_", "sobject_create", "sobject_update", "sobject_upsert", "sobject_delete",
          "bulk_create_job", "bulk_upload")  # fmt: skip


@dataclass
class Org:
    """The emulator plus the connector wired to it, with helpers to act like a recruiter."""

    em: RunningEmulator
    settings: Settings
    client: SalesforceClient
    ledger: Ledger

    def cycle(self, after_seconds: float = 120, **kw: object) -> CycleReport:
        """Let `after_seconds` pass on the org clock (beyond the read lag), then run one cycle."""
        now = self.em.org.advance(after_seconds)
        return run_cycle(self.client, self.ledger, self.settings, now, **kw)  # type: ignore[arg-type]

    def candidate(self, name: str = "Jansen", consent: bool = True) -> str:
        """Create a candidate contact."""
        rt = self.em.org.record_types["Candidate"]
        return self.em.org.create(
            "Contact", {"LastName": name, "RecordTypeId": rt, "Tracking_Consent__c": consent}
        )

    def job(self, name: str = "Developer") -> str:
        """Create a vacancy."""
        return self.em.org.create("msf__Job__c", {"Name": name})

    def track_steps(self, on: bool) -> None:
        """The org's admin switches field history tracking of the application step on or off."""
        app = self.em.org.mapping.application
        self.em.org.set_tracked(app.object, app.step, on)

    def write_calls(self) -> int:
        """Calls that write to the org since the emulator's counters were last reset (REST, Collections,
        Bulk ingest jobs and their uploads)."""
        return sum(n for endpoint, n in self.em.org.call_counts().items() if endpoint.startswith(WRITES))

    def contact(self, contact_id: str) -> dict[str, object]:
        """The contact as the org shows it now."""
        record = self.em.org.record("Contact", contact_id)
        assert record is not None
        return record


@pytest.fixture
def make_org(tmp_path: Path) -> Iterator[Callable[..., Org]]:
    """Build an Org (optionally with other scoring settings); everything is stopped after the test."""
    stack: list[tuple[RunningEmulator, Ledger]] = []
    contexts = []

    def build(settings: Settings | None = None) -> Org:
        pod = f"K{'bcdefghijkmnpqrstuvwxyzBCDEFGHJKLMNPQRSTUVWXYZ'[len(contexts)]}"  # a different org each
        ctx = running_emulator(
            clock=Clock(frozen_at=T0),
            state_dir=tmp_path / f"em{len(contexts)}",
            settings=OrgSettings(pod=pod),
        )
        contexts.append(ctx)
        em = ctx.__enter__()
        base = settings or load_settings(EXAMPLE)
        full = base.model_copy(update={"salesforce": em.connector_settings()})
        assert full.salesforce is not None
        # One clock for org and connector: a test moves past the breaker's cooldown by moving the org's.
        client = SalesforceClient(full.salesforce, sleep=lambda _: None, clock=em.org.clock.now)
        ledger = Ledger(tmp_path / f"ledger{len(contexts)}.db")
        stack.append((em, ledger))
        return Org(em, full, client, ledger)

    yield build
    for (_, ledger), ctx in zip(stack, contexts, strict=True):
        ledger.close()
        ctx.__exit__(None, None, None)


@pytest.fixture
def org(make_org: Callable[..., Org]) -> Org:
    """An empty emulated org with the example rules."""
    return make_org()
