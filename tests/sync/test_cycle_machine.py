"""The cycle as a state machine against two emulated orgs kept in step: one suffers, one is the model.

Both orgs get the same recruiter activity at the same org times. The connector on the first one meets
failing writes and kills at random commit boundaries; the connector on the twin never does. After
every cycle the first org's medals never went down and its first dates never moved; after a clean
cycle on both, the first org shows exactly what the twin shows.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from connector.config import Settings, load_settings
from connector.emulator.org import Emulator, OrgSettings
from connector.emulator.testing import RunningEmulator, running_emulator
from connector.emulator.values import Clock
from connector.sf.client import SalesforceClient
from connector.shell.cycle import run_cycle

from .conftest import EXAMPLE
from .crashes import Crash, CrashingLedger, org_snapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STEPS = ("Websollicitatie", "Match", "Intake verwerkt", "Voorgesteld", "Aangenomen", "Afgewezen")
MEDAL_RANK = {None: 0, "Bronze": 1, "Silver": 2, "Gold": 3}
WRITE_ENDPOINTS = ("collections_update", "collections_upsert")
# Org time between steps: a poll, an hour, a day, more than a week; before a cycle, none (the latest
# edits are still inside the read lag) or a poll.
HOURS = st.sampled_from((0.05, 1, 24, 24 * 8))
BEFORE_A_CYCLE = st.sampled_from((0, 0.05))


@dataclass
class Side:
    """One org and the connector's state for it."""

    em: RunningEmulator
    settings: Settings
    ledger_path: Path
    names: dict[str, str]  # contact id -> the name both orgs share

    @property
    def org(self) -> Emulator:
        return self.em.org

    def cycle(self, crash_at: int | None = None) -> None:
        """One cycle as a freshly started process would run it (new client, new ledger handle)."""
        client = SalesforceClient(self.settings.salesforce, sleep=lambda _: None)  # type: ignore[arg-type]
        ledger = CrashingLedger(self.ledger_path, crash_at)
        try:
            run_cycle(client, ledger, self.settings, self.org.clock.now())
        except Crash:
            pass
        finally:
            ledger.close()


class CycleMachine(RuleBasedStateMachine):
    """Random recruiter activity, failing writes and kills on one side; the twin stays clean."""

    def __init__(self) -> None:
        super().__init__()
        self.stack = ExitStack()
        folder = Path(self.stack.enter_context(tempfile.TemporaryDirectory()))
        # Field history on: a step the first side missed while it was killed is still read later, as
        # the twin read it (without history, A→B→C between two polls is seen as C by design).
        example = load_settings(EXAMPLE)
        base = example.model_copy(update={"sync": example.sync.model_copy(update={"step_history": True})})
        self.sides = [self._side(folder, pod, base) for pod in ("Kb", "Kc")]
        self.contacts: list[tuple[str, str]] = []  # per name: (id in the first org, id in the twin)
        self.applications: list[tuple[str, str]] = []
        self.crash_at: int | None = None
        self.highest: dict[str, int] = {}  # first org's contact id -> highest medal rank it showed
        self.dates: dict[tuple[str, str], date] = {}  # (contact id, field) -> the date once shown

    def _side(self, folder: Path, pod: str, base: Settings) -> Side:
        em = self.stack.enter_context(
            running_emulator(clock=Clock(frozen_at=T0), state_dir=folder / pod, settings=OrgSettings(pod=pod))
        )
        full = base.model_copy(update={"salesforce": em.connector_settings()})
        return Side(em, full, folder / f"{pod}.db", {})

    def teardown(self) -> None:
        self.stack.close()

    # -- recruiter activity, the same in both orgs ------------------------------------------------

    @initialize()
    def two_candidates_have_applied(self) -> None:
        for _ in range(2):
            self.add_candidate()
            self._apply(self.contacts[-1], "Websollicitatie")

    @rule()
    def add_candidate(self) -> None:
        name = f"C{len(self.contacts)}"
        ids = []
        for side in self.sides:
            record_type = side.org.record_types["Candidate"]
            cid = side.org.create("Contact", {"LastName": name, "RecordTypeId": record_type})
            side.names[cid] = name
            ids.append(cid)
        self.contacts.append((ids[0], ids[1]))

    @rule(data=st.data(), step=st.sampled_from(STEPS))
    def apply(self, data: st.DataObject, step: str) -> None:
        self._apply(data.draw(st.sampled_from(self.contacts)), step)

    def _apply(self, pair: tuple[str, str], step: str) -> None:
        ids = []
        for side, contact in zip(self.sides, pair, strict=True):
            job = side.org.create("msf__Job__c", {"Name": f"Job {len(self.applications)}"})
            ids.append(side.org.apply(contact, job, step))
        self.applications.append((ids[0], ids[1]))

    @rule(data=st.data(), step=st.sampled_from(STEPS))
    def move(self, data: st.DataObject, step: str) -> None:
        pair = data.draw(st.sampled_from(self.applications))
        for side, application in zip(self.sides, pair, strict=True):
            side.org.move_application(application, step)

    @rule(data=st.data())
    def gold_by_hand(self, data: st.DataObject) -> None:
        pair = data.draw(st.sampled_from(self.contacts))
        for side, contact in zip(self.sides, pair, strict=True):
            side.org.update("Contact", contact, {"Medal__c": "Gold"})

    # -- what goes wrong on the first side only ---------------------------------------------------

    @rule(calls=st.integers(1, 9), endpoint=st.sampled_from(WRITE_ENDPOINTS))
    def writes_fail(self, calls: int, endpoint: str) -> None:
        self.sides[0].org.fail_next(calls, 503, endpoint)

    @rule(at=st.integers(0, 12))
    def kill_in_the_next_cycle(self, at: int) -> None:
        self.crash_at = at

    @rule(hours=HOURS)
    def time_passes(self, hours: float) -> None:
        self._time_passes(hours)

    @rule(hours=BEFORE_A_CYCLE)
    def cycle(self, hours: float) -> None:
        self._time_passes(hours)
        crash_at, self.crash_at = self.crash_at, None
        self.sides[0].cycle(crash_at)
        self.sides[1].cycle()  # the twin polls in step, so both see the same states of the org

    @rule(hours=BEFORE_A_CYCLE)
    def clean_cycle_on_both(self, hours: float) -> None:
        self._time_passes(hours)
        first, twin = self.sides
        first.org.faults.clear()
        first.cycle()
        twin.cycle()
        assert org_snapshot(first.org, first.names) == org_snapshot(twin.org, twin.names)

    def _time_passes(self, hours: float) -> None:
        for side in self.sides:
            side.org.advance(hours * 3600)

    @invariant()
    def medals_and_dates_never_go_back(self) -> None:
        if not hasattr(self, "sides"):
            return
        for record in self.sides[0].org.records("Contact"):
            cid = str(record["Id"])
            rank = MEDAL_RANK[record.get("Medal__c")]
            assert rank >= self.highest.get(cid, 0), f"{cid}: medal went down to {record.get('Medal__c')}"
            self.highest[cid] = rank
            for name in ("Date_First_Qualification__c", "Date_First_Placement__c"):
                shown: Any = record.get(name)
                before = self.dates.get((cid, name))
                assert before is None or shown == before, f"{cid}: {name} moved from {before} to {shown}"
                if shown is not None:
                    self.dates[(cid, name)] = shown


CycleMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=14,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_the_cycle_converges_to_its_twin_and_never_lowers_a_medal = CycleMachine.TestCase
