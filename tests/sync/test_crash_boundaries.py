"""A kill at every commit boundary of a cycle, then normal cycles: the org ends as if nothing happened.

The week: a recruiter sets Gold by hand on a candidate before the first sync; another candidate is at
Intake verwerkt; a consented candidate visits the website. The first sync runs, then a quiet cycle,
then the Gold candidate reaches Intake verwerkt (which alone would earn bronze), and two more cycles.
The kill lands in the first sync or in the cycle that reads the intake, at each commit in turn.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from connector.sf.client import SalesforceClient
from connector.shell.service import CycleService
from tests.pixel.helpers import hit, settings, token, write_hits

from .conftest import Org
from .crashes import Crash, CrashingLedger, org_snapshot

CYCLES = 4
CRASHED_CYCLES = (0, 2)  # the first sync, and the cycle that sees the intake


def _week(
    org: Org, tmp: Path, crash_in: int | None = None, crash_at: int | None = None
) -> tuple[dict[str, Any], list[int]]:
    """Run the week; kill the process in cycle `crash_in` at commit `crash_at`. Returns the org as a
    recruiter sees it afterwards, and the commits each cycle made (in a run without a kill)."""
    em = org.em.org
    job = org.job()
    gold, intake, visitor = org.candidate("Gold"), org.candidate("Intake"), org.candidate("Visitor")
    names = {gold: "Gold", intake: "Intake", visitor: "Visitor"}
    em.update("Contact", gold, {"Medal__c": "Gold", "Date_First_Placement__c": "2025-05-01"})
    application = em.apply(gold, job, "Websollicitatie")
    em.apply(intake, job, "Intake verwerkt")
    folder = tmp / "pixel"
    folder.mkdir()
    write_hits(folder / "hits.ndjson", [
        hit(1, url=f"https://agency.nl/vacatures/{job}?mt={token(visitor)}", visitor="v"),
        hit(4, url="https://agency.nl/", visitor="v"),
    ])  # fmt: skip
    with_pixel = org.settings.model_copy(update={"pixel": settings(folder=folder)})
    path = tmp / "week.db"
    commits: list[int] = []
    for cycle in range(CYCLES):
        if cycle == 2:
            em.move_application(application, "Intake verwerkt")
        ledger = CrashingLedger(path, crash_at if cycle == crash_in else None)
        # A restarted process: a fresh client (no session, breaker or budget carried over) and ledger,
        # running the daemon's cycle (the org, then the pixel files, then scoring and writing).
        client = SalesforceClient(org.settings.salesforce, sleep=lambda _: None)  # type: ignore[arg-type]
        try:
            outcome = CycleService(with_pixel, partial(_opened, ledger), client).cycle(
                "poll", em.advance(3600)
            )
            assert outcome.report is not None, outcome
            assert outcome.report.status == "ok", outcome
        except Crash:
            assert cycle == crash_in
        finally:
            ledger.close()
        commits.append(ledger.commits)
    return org_snapshot(em, names), commits


def _opened(ledger: CrashingLedger) -> CrashingLedger:
    """The cycle's ledger, handed to the service as its way to open one."""
    return ledger


@pytest.fixture
def reference(make_org: Callable[..., Org], tmp_path: Path) -> tuple[dict[str, Any], list[int]]:
    """The week without a kill: what the org shows, and how many commits each cycle made."""
    (tmp_path / "reference").mkdir()
    return _week(make_org(), tmp_path / "reference")


def test_the_week_without_a_kill_keeps_the_gold_medal_and_writes_every_record(
    reference: tuple[dict[str, Any], list[int]],
) -> None:
    snapshot, commits = reference
    score, band, medal, qualified, placed = snapshot["contacts"]["Gold"]
    assert (medal, placed.isoformat()) == ("Gold", "2025-05-01")
    assert (score, band, qualified is not None) == (30, "Lukewarm", True)
    assert snapshot["contacts"]["Intake"][:3] == (30, "Lukewarm", "Bronze")
    assert snapshot["visits"] == [("Visitor", 2)]
    assert [(name, int(count)) for name, count in snapshot["job views"]] == [("Visitor", 1)]
    assert snapshot["duplicates"] == []
    assert all(n >= 4 for n in commits)  # cycle log, sources, re-score, confirm: boundaries to kill at


@pytest.mark.parametrize("crash_in", CRASHED_CYCLES)
def test_a_kill_at_any_commit_boundary_leaves_the_org_as_a_run_without_one(
    crash_in: int,
    make_org: Callable[..., Org],
    tmp_path: Path,
    reference: tuple[dict[str, Any], list[int]],
) -> None:
    expected, commits = reference
    boundaries = commits[crash_in]
    for crash_at in range(boundaries):
        run = tmp_path / f"kill-{crash_in}-{crash_at}"
        run.mkdir()
        got, _ = _week(make_org(), run, crash_in, crash_at)
        assert got == expected, f"killed in cycle {crash_in} before commit {crash_at + 1} of {boundaries}"
