"""A seeded generator of MSR-shaped activity for the demo: candidates moving through applications,
opening and clicking e-mails, visiting the website, with contact persons among them."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from connector.config import Settings
from connector.events import (
    APPLICATION_STEP,
    APPOINTMENT_MADE,
    CONTACT_UPDATED,
    EMAIL_CLICKED,
    EMAIL_OPENED,
    EMAIL_REPLIED,
    WEB_JOB_VIEW,
    WEB_VISIT,
    Event,
    EventReader,
    make_event,
    write_ndjson,
)
from connector.ledger import Ledger
from connector.scoring import ContactState
from connector.shell.rescore import rescore, rulebook

SEED = 20260302
# How far candidates get: most stop early, a few are hired, some are rejected on the way.
JOURNEYS = [
    (["Match"], 18),
    (["Websollicitatie"], 22),
    (["Websollicitatie", "Intake verwerkt"], 20),
    (["Match", "Intake verwerkt", "Voorgesteld"], 14),
    (["Websollicitatie", "Intake verwerkt", "Voorgesteld", "Aangenomen"], 8),
    (["Websollicitatie", "Intake verwerkt", "Afgewezen"], 10),
    ([], 8),  # no application: only e-mail and website activity, or nothing at all
]


def contact_id(n: int) -> str:
    """An 18-character Contact id (key prefix 003)."""
    return f"003Dm00000{n:08d}"


def job_id(n: int) -> str:
    """An 18-character vacancy id."""
    return f"a0BDm00000{n:08d}"


def generate(
    now: datetime, candidates: int = 240, contact_persons: int = 20, days: int = 90
) -> Iterator[Event]:
    """Yield the demo's events for the `days` before `now` (same seed → same shape every run)."""
    rnd = random.Random(SEED)
    now = now.replace(microsecond=0)
    start = now - timedelta(days=days)

    def moment(after: datetime, max_days: float) -> datetime:
        moved = after + timedelta(seconds=int(rnd.uniform(0.2, max_days) * 86_400))
        return min(now - timedelta(minutes=5), moved)

    journeys, weights = zip(*JOURNEYS, strict=True)
    for n in range(candidates + contact_persons):
        cid = contact_id(n)
        person = n >= candidates
        yield make_event(cid, CONTACT_UPDATED, start, {"kind": "contact_person" if person else "candidate"})
        first = start + timedelta(seconds=int(rnd.uniform(0, days - 1) * 86_400))
        if not person:
            when = first
            app = f"a0CDm00000{n:08d}"
            job = job_id(rnd.randrange(40))
            for step in rnd.choices(journeys, weights)[0]:
                when = moment(when, 12)
                yield make_event(
                    cid, APPLICATION_STEP, when, {"step": step, "job_id": job, "application_id": app}
                )
                if step == "Intake verwerkt" and rnd.random() < 0.6:
                    yield make_event(cid, APPOINTMENT_MADE, moment(when, 3), {"event_id": f"00U{n:015d}"})
        yield from _engagement(rnd, cid, first, now, person)


def _engagement(
    rnd: random.Random, cid: str, first: datetime, now: datetime, person: bool
) -> Iterator[Event]:
    # E-mails: opens are common, clicks rarer, replies rare; contact persons mostly read mail.
    for m in range(rnd.choice([0, 0, 1, 2, 3, 5])):
        sent = first + timedelta(seconds=int(rnd.uniform(0, max(0.1, (now - first).days)) * 86_400))
        if sent >= now:
            continue
        message = f"02s{cid[-8:]}{m:07d}"
        if rnd.random() < 0.7:
            yield make_event(
                cid, EMAIL_OPENED, sent + timedelta(hours=rnd.uniform(0.1, 30)), {"message_id": message}
            )
            if rnd.random() < 0.35:
                yield make_event(cid, EMAIL_CLICKED, sent + timedelta(hours=31), {"message_id": message})
            if rnd.random() < 0.15:
                yield make_event(cid, EMAIL_REPLIED, sent + timedelta(hours=40), {"message_id": message})
    if person:
        return
    for v in range(rnd.choice([0, 0, 1, 2, 4, 8])):
        visited = first + timedelta(seconds=int(rnd.uniform(0, max(0.1, (now - first).days)) * 86_400))
        if visited >= now:
            continue
        visit = f"{cid}-v{v}"
        pages = rnd.randint(1, 9)
        yield make_event(
            cid, WEB_VISIT, visited, {"visit_id": visit, "pages": pages, "landing_url": "/vacatures"}
        )
        if rnd.random() < 0.5:
            job = job_id(rnd.randrange(40))
            url = f"/vacatures/{job}"
            yield make_event(cid, WEB_JOB_VIEW, visited + timedelta(minutes=2), {"job_id": job, "url": url})


@dataclass(frozen=True, slots=True)
class DemoResult:
    """Where the demo put its files and what it scored."""

    events_file: Path
    ledger_file: Path
    events: int
    states: list[ContactState]


def run_demo(folder: Path, settings: Settings, now: datetime) -> DemoResult:
    """Generate the seeded sample, write it as NDJSON, ingest it into a fresh ledger and score all."""
    folder.mkdir(parents=True, exist_ok=True)
    events_file, ledger_file = folder / "events.ndjson", folder / "ledger.db"
    for stale in folder.glob("ledger.db*"):
        stale.unlink()  # the sample is generated relative to now: a fresh ledger each run
    with events_file.open("w", encoding="utf-8") as out:
        count = write_ndjson(generate(now), out)
    with Ledger(ledger_file) as ledger, events_file.open(encoding="utf-8") as stream:
        ledger.append(EventReader(stream, str(events_file)))
        rescore(ledger, settings, now, everyone=True)
        book = rulebook(settings, now)
        states = [book.score(cid, events) for cid, events in ledger.scan()]
    return DemoResult(events_file, ledger_file, count, states)
