"""`msr-engage demo`: the emulator with an MSR-shaped org, the daemon's cycle (the shell's cycle
service) on an accelerated org clock, and a simulator of recruiters and candidates, shown live."""

from __future__ import annotations

import json
import random
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from connector.config import Settings
from connector.config.pixel import PixelSettings
from connector.emulator.org import Emulator
from connector.emulator.testing import running_emulator
from connector.emulator.values import Clock
from connector.ledger import Ledger
from connector.pixel.identity import sign_token
from connector.sf.client import SalesforceClient
from connector.shell.service import CycleService
from connector.sync.schedule import last_pass_time

NEXT_STEP = {
    "Match": "Intake verwerkt",
    "Websollicitatie": "Intake verwerkt",
    "Intake verwerkt": "Voorgesteld",
    "Voorgesteld": "Aangenomen",
}
FIELDS = {
    "Lead_Score__c": "score",
    "Lead_Score_Band__c": "band",
    "Medal__c": "medal",
    "Date_First_Qualification__c": "first qualified",
    "Date_First_Placement__c": "first placed",
}
SEED = 7
START_SECONDS = 120  # org time between the seed and the first cycle
SITE = "https://www.example-agency.nl"


@dataclass
class DemoSummary:
    """What the demo did, for the closing lines."""

    folder: Path
    ticks: int = 0
    org_changes: int = 0
    cycle_seconds: list[float] = field(default_factory=list)
    step_moves: int = 0
    hours_per_tick: float = 0
    latencies: list[float] = field(default_factory=list)  # org hours from a scoring step to its field change
    unseen: int = 0  # scoring step moves whose contact never changed before the demo ended
    hits: int = 0  # website hits the simulated visitors left in the pixel folder
    visits: int = 0  # Website visit records in the org at the end
    job_views: int = 0  # Website job view records in the org at the end
    ended_at: datetime | None = None  # the org's time at the last cycle
    nightly: int = 0  # cycles that ran as the nightly pass (the org clock crossed `daily_pass_at`)


class Simulator:
    """Recruiters moving applications and candidates reading mail, at the org's current time."""

    def __init__(self, org: Emulator, rnd: random.Random, hits: Path, secret: bytes) -> None:
        self.org, self.rnd, self.hits, self.secret = org, rnd, hits, secret
        self.pending: dict[str, datetime] = {}  # contact -> org time of its last unanswered step move

    def browse(self) -> int:
        """Candidates following a tracked link to the site and reading vacancies; a few strangers.

        Hits go to the pixel folder as NDJSON, at the org's time; returns how many were written.
        """
        candidates = [c["Id"] for c in self.org.records("Contact") if c["Tracking_Consent__c"]]
        jobs = [j["Id"] for j in self.org.records("msf__Job__c")]
        now, lines = self.org.clock.now(), []
        visitors = [(cid, f"v-{cid}") for cid in self.rnd.sample(candidates, min(len(candidates), 5))]
        visitors += [("", f"v-stranger-{self.rnd.randrange(10**6)}") for _ in range(3)]
        for contact_id, visitor in visitors:
            pages = [f"{SITE}/?mt={sign_token(contact_id, self.secret)}" if contact_id else f"{SITE}/"]
            pages += [f"{SITE}/vacatures/{job}" for job in self.rnd.sample(jobs, self.rnd.randint(1, 3))]
            at = now + timedelta(minutes=self.rnd.randint(0, 60))
            for page in pages:
                at += timedelta(minutes=self.rnd.randint(1, 6))
                hit = {"time": at.isoformat(), "url": page, "visitor_id": visitor, "ip": "192.0.2.10",
                       "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0"}  # fmt: skip
                lines.append(json.dumps(hit))
        with self.hits.open("a", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in lines))
        return len(lines)

    def act(self) -> int:
        """One tick of activity; returns how many application steps moved."""
        apps = [a for a in self.org.records("msf__Job_Application__c") if a["msf__Step__c"] in NEXT_STEP]
        moved = 0
        for app in self.rnd.sample(apps, min(len(apps), 6)):
            step = NEXT_STEP[app["msf__Step__c"]] if self.rnd.random() > 0.15 else "Afgewezen"
            self.org.move_application(app["Id"], step)
            if step != "Afgewezen":  # a scoring step: its contact's fields must change in the next cycle
                self.pending.setdefault(app["msf__Candidate__c"], self.org.clock.now())
            moved += 1
        unread = [
            m for m in self.org.records("EmailMessage") if m["FirstOpenedDate"] is None and not m["Incoming"]
        ]
        for message in self.rnd.sample(unread, min(len(unread), 8)):
            self.org.open_email(message["Id"], clicked=self.rnd.random() < 0.4)
            if self.rnd.random() < 0.2:
                self.org.reply_email(message["Id"])
        return moved


def _snapshot(org: Emulator) -> dict[str, dict[str, Any]]:
    return {c["Id"]: c for c in org.records("Contact")}


def _changes(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    found = []
    for cid, now in after.items():
        was = before.get(cid, {})
        parts = [
            f"{label} {_show(was.get(f))} → {_show(now.get(f))}"
            for f, label in FIELDS.items()
            if was.get(f) != now.get(f)
        ]
        if parts:
            found.append((f"{now.get('FirstName') or ''} {now.get('LastName')}".strip(), "; ".join(parts)))
    return found


def _show(value: Any) -> str:
    if value is None:
        return "—"
    return str(int(value)) if isinstance(value, float) else str(value)


def _view(
    org: Emulator, tick: int, ticks: int, recent: list[tuple[str, str, str]], last: float, kind: str = "poll"
) -> Group:
    bands: dict[str, int] = {}
    medals: dict[str, int] = {}
    for c in org.records("Contact"):
        bands[c["Lead_Score_Band__c"] or "empty"] = bands.get(c["Lead_Score_Band__c"] or "empty", 0) + 1
        if c["Medal__c"]:
            medals[c["Medal__c"]] = medals.get(c["Medal__c"], 0) + 1
    head = Table.grid(padding=(0, 2))
    head.add_row(
        f"[bold]org time[/] {org.clock.now():%Y-%m-%d %H:%M} UTC",
        f"tick {tick}/{ticks}",
        f"last cycle {last:.2f} s" + (" (the nightly pass)" if kind == "daily" else ""),
    )
    band_line = " · ".join(f"{b} {bands.get(b, 0)}" for b in ("Hot", "Warm", "Lukewarm", "Cold", "empty"))
    medal_line = " · ".join(f"{m} {medals.get(m, 0)}" for m in ("Gold", "Silver", "Bronze"))
    web = f"website: {len(org.records('Website_Visit__c'))} visits, {len(org.records('Website_Job_View__c'))}"
    head.add_row(f"bands: {band_line}", f"medals: {medal_line}", f"{web} job views")
    table = Table(title="Latest changes in the org's Contact fields", title_justify="left")
    table.add_column("org time", no_wrap=True)
    table.add_column("candidate", no_wrap=True)
    table.add_column("what changed")
    for when, who, what in recent[-14:]:
        table.add_row(when, who, what)
    return Group(head, table)


def _nightly(settings: Settings) -> Callable[[datetime], datetime]:
    """The time of the latest nightly pass due at a moment, as the daemon schedules it."""
    hour, minute = (int(part) for part in settings.sync.daily_pass_at.split(":"))
    zone = settings.scoring.zone
    return lambda now: last_pass_time(now, clock_time(hour, minute), zone)


def run(
    folder: Path,
    settings: Settings,
    console: Console,
    *,
    ticks: int = 24,
    hours_per_tick: float = 3.0,
    pace: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DemoSummary:
    """Run the whole demo in `folder` (made fresh); returns its summary."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    summary = DemoSummary(folder, hours_per_tick=hours_per_tick)
    # The org's clock replays the last days, so the demo's last cycle is about now: commands run
    # afterwards (`explain`, `status`, `evaluate`) see every event it made, none in their future.
    replayed = timedelta(hours=ticks * hours_per_tick, seconds=START_SECONDS)
    clock = Clock(offset=-replayed)
    with running_emulator(seed="demo", state_dir=folder / "emulator", clock=clock) as em:
        sf = em.connector_settings()
        # Our own pixel folder and a throwaway token secret: simulated candidates visit the website.
        (folder / "pixel").mkdir()
        secret = secrets.token_urlsafe(24)
        pixel = PixelSettings(folder=folder / "pixel", token_secret=SecretStr(secret))
        full = settings.model_copy(update={"salesforce": sf, "pixel": pixel})
        service = CycleService(full, lambda: Ledger(folder / "ledger.db"), SalesforceClient(sf))
        sim = Simulator(em.org, random.Random(SEED), folder / "pixel" / "hits.ndjson", secret.encode())
        recent: list[tuple[str, str, str]] = []
        before = _snapshot(em.org)
        em.org.advance(START_SECONDS)
        due = _nightly(full)
        last: datetime | None = None
        with Live(_view(em.org, 0, ticks, recent, 0.0), console=console, refresh_per_second=8) as live:
            for tick in range(ticks + 1):
                started, now = time.perf_counter(), em.org.clock.now()
                kind = "daily" if last is not None and due(now) > last else "poll"
                outcome = service.cycle(kind, now)
                summary.nightly += kind == "daily"
                last = now
                if outcome.stop is not None:
                    raise outcome.stop  # what would stop the daemon ends the demo, with its message
                summary.cycle_seconds.append(time.perf_counter() - started)
                after = _snapshot(em.org)
                stamp = f"{em.org.clock.now():%m-%d %H:%M}"
                for who, what in _changes(before, after):
                    recent.append((stamp, who, what))
                    summary.org_changes += 1
                for cid in [c for c in sim.pending if before.get(c) != after.get(c)]:
                    summary.latencies.append(
                        (em.org.clock.now() - sim.pending.pop(cid)).total_seconds() / 3600
                    )
                before = after
                live.update(_view(em.org, tick, ticks, recent, summary.cycle_seconds[-1], kind))
                if tick == ticks:
                    summary.ended_at = now
                    summary.unseen = len(sim.pending)
                    summary.visits = len(em.org.records("Website_Visit__c"))
                    summary.job_views = len(em.org.records("Website_Job_View__c"))
                    break
                summary.step_moves += sim.act()
                summary.hits += sim.browse()
                em.org.advance(hours_per_tick * 3600)
                summary.ticks += 1
                if pace:
                    sleep(pace)
    return summary
