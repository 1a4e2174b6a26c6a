"""The imperative shell of the scoring commands: gather inputs, call the pure core, apply outputs.

`now` is read once by the caller and passed in; nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import TypeVar

from connector.config import ContactKind, Settings
from connector.demo_data import generate
from connector.events import Event, EventReader, write_ndjson
from connector.ledger import Ledger, StateRow
from connector.scoring import (
    Band,
    ContactState,
    Medal,
    RecruitmentDetails,
    Rulebook,
    keep_monotone,
)
from connector.scoring.simulate import Simulation, compare

Progress = Callable[[int], None]
CHUNK = 2_000
_T = TypeVar("_T")


def rulebook(settings: Settings, now: datetime) -> Rulebook:
    """The rules of `settings`, prepared for `now`."""
    return Rulebook(settings.scoring, settings.medals, now)


def score_events(events: Iterable[Event], settings: Settings, now: datetime) -> list[ContactState]:
    """Score a stream of events without a ledger; one state per contact, sorted by contact id."""
    by_contact: dict[str, list[Event]] = {}
    for event in events:
        by_contact.setdefault(event.contact_id, []).append(event)
    book = rulebook(settings, now)
    return [book.score(cid, by_contact[cid]) for cid in sorted(by_contact)]


def stored_details(row: StateRow | None) -> RecruitmentDetails | None:
    """The recruitment details of a stored state row."""
    if row is None:
        return None
    return RecruitmentDetails(
        score=row.score,
        band=Band(row.band) if row.band else None,
        medal=Medal(row.medal) if row.medal else None,
        first_qualified_on=date.fromisoformat(row.first_qualified_on) if row.first_qualified_on else None,
        first_placed_on=date.fromisoformat(row.first_placed_on) if row.first_placed_on else None,
    )


def state_row(state: ContactState) -> StateRow:
    """A contact state as the ledger stores it."""
    d = state.details
    return StateRow(
        contact_id=state.contact_id,
        kind=state.kind.value,
        score=d.score,
        band=d.band.value if d.band else None,
        medal=d.medal.value if d.medal else None,
        first_qualified_on=d.first_qualified_on.isoformat() if d.first_qualified_on else None,
        first_placed_on=d.first_placed_on.isoformat() if d.first_placed_on else None,
        last_activity_on=state.last_activity_on.isoformat() if state.last_activity_on else None,
        lines=state.rule_points(),
    )


@dataclass(frozen=True, slots=True)
class RescoreResult:
    """How many contacts were scored and how many stored states changed."""

    scored: int
    changed: int


def _chunks(pairs: Iterator[tuple[str, _T]]) -> Iterator[list[tuple[str, _T]]]:
    while chunk := list(islice(pairs, CHUNK)):
        yield chunk


def rescore(
    ledger: Ledger,
    settings: Settings,
    now: datetime,
    *,
    everyone: bool = False,
    progress: Progress | None = None,
) -> RescoreResult:
    """Re-score dirty contacts (or all), keep medals/dates monotone, store what changed."""
    book = rulebook(settings, now)
    # Records, not Events: a full re-score reads every stored event, and only the attributes the
    # rules look at are decoded.
    if everyone:
        source = ledger.scan_records(book.attrs_kinds)
    else:
        dirty = ledger.dirty_contacts()
        found = ledger.records_of(dirty, book.attrs_kinds)
        source = ((cid, found.get(cid, [])) for cid in dirty)
    scored = changed = 0
    for chunk in _chunks(source):
        stored = ledger.states(cid for cid, _ in chunk)
        rows = []
        for contact_id, records in chunk:
            previous = stored.get(contact_id)
            state = keep_monotone(stored_details(previous), book.score_records(contact_id, records))
            row = state_row(state)
            if row != previous:
                rows.append(row)
        ledger.save_states(rows, now)
        if everyone:
            # The scan is in contact order, so the chunk is every contact of its key range.
            ledger.clear_dirty_between(chunk[0][0], chunk[-1][0])
        else:
            ledger.clear_dirty(cid for cid, _ in chunk)
        scored += len(chunk)
        changed += len(rows)
        if progress is not None:
            progress(len(chunk))
    return RescoreResult(scored, changed)


def explain(ledger: Ledger, settings: Settings, contact_id: str, now: datetime) -> ContactState | None:
    """The contact's state with every line and the events behind it; None for an unknown contact."""
    events = ledger.events_of([contact_id]).get(contact_id)
    if not events:
        return None
    previous = stored_details(ledger.states([contact_id]).get(contact_id))
    return keep_monotone(previous, rulebook(settings, now).score(contact_id, events, explain=True))


def simulate(
    ledger: Ledger, current: Settings, proposed: Settings, now: datetime, progress: Progress | None = None
) -> Simulation:
    """Score every contact under both rule sets (same `now`, same stored medals); write nothing."""
    old_book, new_book = rulebook(current, now), rulebook(proposed, now)

    def pairs() -> Iterator[tuple[ContactState, ContactState]]:
        attrs_kinds = old_book.attrs_kinds | new_book.attrs_kinds
        for chunk in _chunks(ledger.scan_records(attrs_kinds)):
            stored = ledger.states(cid for cid, _ in chunk)
            for contact_id, records in chunk:
                previous = stored_details(stored.get(contact_id))
                yield (
                    keep_monotone(previous, old_book.score_records(contact_id, records)),
                    keep_monotone(previous, new_book.score_records(contact_id, records)),
                )
            if progress is not None:
                progress(len(chunk))

    return compare(pairs())


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


def status_facts(ledger: Ledger) -> dict[str, list[tuple[str, object]]]:
    """What `status` shows, grouped: ledger, last cycle, org API."""
    from connector.ledger.sync_state import dead_letters, last_cycles

    cursors = [(row[0], row[1]) for row in ledger.db.execute("SELECT name, value FROM cursors ORDER BY name")]
    ledger_rows: list[tuple[str, object]] = [
        ("ledger", ledger.path),
        ("org", ledger.meta("org_id") or "not bound yet"),
        ("events", ledger.count_events()),
        ("contacts", ledger.count_contacts()),
        ("waiting to be re-scored", len(ledger.dirty_contacts())),
        ("dead letters", len(dead_letters(ledger))),
        *((f"cursor {name}", value) for name, value in cursors),
    ]
    last = last_cycles(ledger)
    cycle_rows: list[tuple[str, object]] = []
    if last:
        c = last[0]
        cycle_rows = [("kind", c["kind"]), ("started", c["started_at"]), ("status", c["status"])]
        for key, value in c["summary"].items():
            if key == "status" or value in ("", {}, None):
                continue
            shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
            cycle_rows.append((key.replace("_", " "), shown))
    ok = last_cycles(ledger, status="ok")
    cycle_rows.append(("last successful", ok[0]["finished_at"] if ok else "never"))
    breaker = ledger.meta("breaker_open_until") or ""
    api_rows: list[tuple[str, object]] = [
        ("API usage (used/limit)", ledger.meta("api_usage") or "unknown"),
        ("breaker", f"open until {breaker}" if breaker else "closed"),
    ]
    return {"Ledger": ledger_rows, "Last cycle": cycle_rows, "Org API": api_rows}


__all__ = ["ContactKind", "RescoreResult", "explain", "rescore", "score_events", "simulate", "state_row"]
