"""The imperative shell of the scoring commands: gather inputs, call the pure core, apply outputs.

`now` is read once by the caller and passed in; nothing here reads the clock.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import multiprocessing.queues
import os
import queue
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

from connector.config import Medals, Scoring, Settings
from connector.details import RecruitmentDetails, ShownDetails, StoredState, keep_monotone
from connector.events import Event, EventRecord
from connector.ledger import Ledger
from connector.ledger.sync_state import shown_details
from connector.scoring import ContactState, Rulebook
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


def stored_state(state: ContactState) -> StoredState:
    """A contact state as the ledger stores it (one score line per rule, not every line and event)."""
    return StoredState(
        state.contact_id, state.kind, state.details, state.last_activity_on, state.line_facts()
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
    workers: int | None = None,
) -> RescoreResult:
    """Re-score dirty contacts (or all), keep medals/dates monotone, store what changed.

    A full re-score of a large ledger splits the contacts in two key ranges and scores the upper one
    in a second process (`workers`: None = one per core, at most two); this process stays the only
    writer. Records, not Events: only the attributes the rules look at are decoded.
    """
    book = rulebook(settings, now)
    scored = changed = 0

    def store(rows: list[StoredState], contacts: int) -> None:
        nonlocal scored, changed
        ledger.save_states(rows, now)
        scored += contacts
        changed += len(rows)
        if progress is not None:
            progress(contacts)

    if not everyone:
        dirty = ledger.dirty_contacts()
        found = ledger.records_of(dirty, book.attrs_kinds)
        for chunk in _chunks((cid, found.get(cid, [])) for cid in dirty):
            ids = [cid for cid, _ in chunk]
            with ledger.transaction():  # the states and the cleared marks land together
                rows = _score_chunk(ledger.states(ids).get, shown_details(ledger, ids), book, chunk)
                store(rows, len(chunk))
                ledger.clear_dirty(ids)
        return RescoreResult(scored, changed)

    helper = _Helper.start(ledger, settings, now) if (workers or os.cpu_count() or 1) > 1 else None
    try:
        stop = helper.start_key if helper is not None else None
        stored = _InOrder(ledger.scan_states(stop=stop))
        for chunk in _chunks(ledger.scan_records(book.attrs_kinds, stop=stop)):
            shown = shown_details(ledger, [cid for cid, _ in chunk])
            with ledger.transaction():
                store(_score_chunk(stored.get, shown, book, chunk), len(chunk))
                # The scan is in contact order, so the chunk is every contact of its key range.
                ledger.clear_dirty_between(chunk[0][0], chunk[-1][0])
            if helper is not None:
                helper.collect(ledger, store, wait=False)
        stored.close()
        if helper is not None:
            helper.collect(ledger, store, wait=True)
    finally:
        if helper is not None:
            helper.stop()
    return RescoreResult(scored, changed)


def _score_chunk(
    stored: Callable[[str], StoredState | None],
    shown: Mapping[str, ShownDetails],
    book: Rulebook,
    chunk: list[tuple[str, list[EventRecord]]],
) -> list[StoredState]:
    """The states of a chunk of contacts that differ from what is stored, each kept monotone against
    what was stored and what the org shows: the one merge of a cycle."""
    rows = []
    for contact_id, records in chunk:
        previous = stored(contact_id)
        org = shown.get(contact_id)
        row = stored_state(
            _monotone(book.score_records(contact_id, records), previous, org.details if org else None)
        )
        if row != previous:
            rows.append(row)
    return rows


def _monotone(
    state: ContactState, previous: StoredState | None, shown: RecruitmentDetails | None
) -> ContactState:
    merged = keep_monotone(state.details, previous.details if previous else None, shown)
    return state if merged is state.details else replace(state, details=merged)


class _InOrder:
    """Stored states looked up in ascending contact order: a merge join beside the event scan, instead
    of a query per chunk."""

    def __init__(self, rows: Generator[StoredState, None, None]) -> None:
        self.rows = rows
        self.head = next(rows, None)

    def close(self) -> None:
        """Let go of the rows not asked for (and the snapshot they are read from)."""
        self.rows.close()

    def get(self, contact_id: str) -> StoredState | None:
        """The stored state of `contact_id` (asked in ascending order), or None."""
        # SQLite's BINARY collation compares UTF-8 bytes, which orders like Python compares str.
        while self.head is not None and self.head.contact_id < contact_id:
            self.head = next(self.rows, None)
        return self.head if self.head is not None and self.head.contact_id == contact_id else None


# Below this many contacts a second process costs more (start-up, imports) than it saves.
PARALLEL_FROM = 100_000


@dataclass
class _Helper:
    """A second process scoring the contacts from `start_key` on; it sends rows, this one writes.

    One writer only: a connection that holds a long read (the scan) cannot commit after another
    connection did, so the helper never writes, and its reads see the ledger as the job found it.
    """

    process: multiprocessing.process.BaseProcess
    messages: multiprocessing.queues.Queue[tuple[Any, ...]]
    start_key: str
    finished: bool = False

    @classmethod
    def start(cls, ledger: Ledger, settings: Settings, now: datetime) -> _Helper | None:
        count, split = ledger.contact_split()
        if count < PARALLEL_FROM or split is None:
            return None
        context = multiprocessing.get_context("spawn")  # no inherited SQLite handles
        messages: multiprocessing.queues.Queue[tuple[Any, ...]] = context.Queue(maxsize=4)
        args = (str(ledger.path), settings.scoring, settings.medals, now, split, messages)
        process = context.Process(target=_score_range, args=args, name="rescore-helper", daemon=True)
        process.start()
        return cls(process, messages, split)

    def collect(self, ledger: Ledger, store: Callable[[list[StoredState], int], None], *, wait: bool) -> None:
        """Write what the helper sent; with `wait`, until it is done."""
        while not self.finished:
            try:
                message = self.messages.get(timeout=5) if wait else self.messages.get_nowait()
            except queue.Empty:
                if not wait:
                    return
                if not self.process.is_alive():
                    raise RuntimeError("the re-score helper process stopped without finishing") from None
                continue
            if message[0] == "done":
                self.finished = True
                return
            if message[0] == "failed":
                raise RuntimeError(f"the re-score helper failed: {message[1]}")
            _, rows, first, last, contacts = message
            with ledger.transaction():
                store(rows, contacts)
                ledger.clear_dirty_between(first, last)

    def stop(self) -> None:
        """End the helper (it has finished unless this job failed) and reap it."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()


def _score_range(
    path: str,
    scoring: Scoring,
    medals: Medals,
    now: datetime,
    start: str,
    messages: multiprocessing.queues.Queue[tuple[Any, ...]],
) -> None:
    """The helper's work: score every contact from `start` on and send the changed rows."""
    try:
        book = Rulebook(scoring, medals, now)
        with Ledger(path) as ledger:
            stored = _InOrder(ledger.scan_states(start=start))
            for chunk in _chunks(ledger.scan_records(book.attrs_kinds, start=start)):
                shown = shown_details(ledger, [cid for cid, _ in chunk])
                rows = _score_chunk(stored.get, shown, book, chunk)
                messages.put(("chunk", rows, chunk[0][0], chunk[-1][0], len(chunk)))
            stored.close()
        messages.put(("done",))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        messages.put(("failed", f"{type(exc).__name__}: {exc}"))


def explain(ledger: Ledger, settings: Settings, contact_id: str, now: datetime) -> ContactState | None:
    """The contact's state with every line and the events behind it; None for an unknown contact."""
    events = ledger.events_of([contact_id]).get(contact_id)
    if not events:
        return None
    state = rulebook(settings, now).score(contact_id, events, explain=True)
    shown = shown_details(ledger, [contact_id]).get(contact_id)
    return _monotone(state, ledger.states([contact_id]).get(contact_id), shown.details if shown else None)


def simulate(
    ledger: Ledger, current: Settings, proposed: Settings, now: datetime, progress: Progress | None = None
) -> Simulation:
    """Score every contact under both rule sets (same `now`, same stored medals); write nothing."""
    old_book, new_book = rulebook(current, now), rulebook(proposed, now)

    def pairs() -> Iterator[tuple[ContactState, ContactState]]:
        attrs_kinds = old_book.attrs_kinds | new_book.attrs_kinds
        for chunk in _chunks(ledger.scan_records(attrs_kinds)):
            ids = [cid for cid, _ in chunk]
            stored, shown = ledger.states(ids), shown_details(ledger, ids)
            for contact_id, records in chunk:
                previous, org = stored.get(contact_id), shown.get(contact_id)
                details = org.details if org else None
                yield (
                    _monotone(old_book.score_records(contact_id, records), previous, details),
                    _monotone(new_book.score_records(contact_id, records), previous, details),
                )
            if progress is not None:
                progress(len(chunk))

    return compare(pairs())


__all__ = ["RescoreResult", "explain", "rescore", "score_events", "simulate", "stored_state"]
