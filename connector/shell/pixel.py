"""The imperative shell of the pixel: read new hits, call the pure pipeline, store events with state.

`now` is read once by the caller and passed in. One batch is one transaction: the events, the file
offsets (or the API cursor), the visitor links and the pending hits are committed together, so a
crash never loses hits nor counts them twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import requests
import structlog
from werkzeug.serving import BaseWSGIServer

from connector.config import Settings
from connector.config.pixel import PixelSettings
from connector.errors import ConfigError, InputError
from connector.ledger import Ledger
from connector.ledger.erasure import merged_into
from connector.ledger.pixel_state import (
    append_with_pixel_state,
    consented_contacts,
    load_file_rows,
)
from connector.pixel.collector import serve
from connector.pixel.hits import Hit
from connector.pixel.identity import sign_token
from connector.pixel.pipeline import (
    Counts,
    Crash,
    Outcome,
    Toolkit,
    parse_items,
    parse_lines,
    process,
)
from connector.pixel.sources import (
    FileMark,
    FileRead,
    HttpSession,
    ReadStatus,
    fetch_pages,
    file_key,
    read_new_lines,
)
from connector.shell.pixel_rows import Scope, load_state, to_stored
from connector.shell.retention import prune_read_hit_files
from connector.shell.stages import FailureReason, SourceFailure

log = structlog.get_logger(__name__)
API_CURSOR = "pixel.api"
FILES = "pixel files"  # the names of the pixel's sources in cycle reports, status and metrics
API = "pixel api"


@dataclass
class PixelReport:
    """What one run did: line counts by outcome, events added, files and how each was read, and what
    it had to skip (files it could not read, lines that made a parser raise)."""

    counts: Counts = field(default_factory=Counts)
    added: int = 0
    duplicates: int = 0
    files: dict[str, ReadStatus] = field(default_factory=dict)  # path -> how the run first found it
    failures: list[SourceFailure] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: `lines` equals `credited + waiting + sum(rejected)`."""
        return {
            **self.counts.as_dict(),
            "added": self.added,
            "duplicates": self.duplicates,
            "files": {path: status.value for path, status in self.files.items()},
            "skipped": [
                {"part": f.part, "reason": f.reason.value, "detail": f.detail} for f in self.failures
            ],
        }


def _store(
    ledger: Ledger,
    report: PixelReport,
    outcome: Outcome,
    scope: Scope,
    settings: PixelSettings,
    now: datetime,
    cursors: Mapping[str, str] | None = None,
) -> None:
    # Anonymous hits of visitors this run did not see are not loaded; those past the window go here.
    try:
        expire_before: datetime | None = now - timedelta(days=settings.attribution_days)
    except OverflowError:
        expire_before = None  # a window reaching before all time: nothing has aged out
    result, expired = append_with_pixel_state(
        ledger, outcome.events, to_stored(outcome.state, *scope), cursors, expire_before, at=now
    )
    report.added += result.added
    report.duplicates += result.duplicates
    report.counts.expired += expired
    _log_shared(outcome.shared)


def _read_all(
    paths: Sequence[Path],
    marks: Mapping[str, FileMark],
    settings: PixelSettings,
    skipped: dict[str, SourceFailure],
) -> list[FileRead]:
    """The new lines of every readable file; a file that cannot be read is noted in `skipped`."""
    reads: dict[str, FileRead] = {}
    for path in paths:
        try:
            read = read_new_lines(path, marks, formats=settings.formats)
        except OSError as exc:
            skipped.setdefault(str(path), SourceFailure(
                FILES, FailureReason.UNREADABLE_FILE, f"cannot read: {exc.strerror or exc}", str(path)
            ))  # fmt: skip
            continue
        if read.format not in settings.formats:
            skipped.setdefault(str(path), SourceFailure(
                FILES, FailureReason.UNKNOWN_FORMAT,
                f"looks like {read.format}, which [pixel] formats does not list", str(path),
            ))  # fmt: skip
            continue
        reads.setdefault(read.mark.key, read)  # the same file under two names is read once
    return list(reads.values())


@dataclass
class _Crashes:
    """Lines of one file (items of one page) that made a parser raise: how many, the first one."""

    count: int
    first: str  # "byte N" of a file, "item N" of a page
    error: str


def _note_crashes(read: FileRead, crashes: list[Crash], noted: dict[str, _Crashes]) -> None:
    if not crashes:
        return
    sizes = [len(line) + 1 for line in read.lines]
    start = read.mark.offset - sum(sizes)
    found = noted.get(str(read.path))
    if found is None:
        offset = start + sum(sizes[: crashes[0].index])
        noted[str(read.path)] = _Crashes(len(crashes), f"byte {offset}", crashes[0].error)
    else:
        found.count += len(crashes)


def _crash_failure(source: str, part: str, crashes: _Crashes) -> SourceFailure:
    detail = f"{crashes.count} line(s) made the parser raise, the first at {crashes.first}: {crashes.error}"
    return SourceFailure(source, FailureReason.PARSER_CRASH, detail, part)


def unread_bytes(ledger: Ledger, paths: Sequence[Path]) -> int:
    """About how many bytes of `paths` a run would read (for a progress bar; a rewritten file counts
    from where its mark says, a shrunk one whole)."""
    marks = {row[0]: FileMark(*row) for row in load_file_rows(ledger)}
    total = 0
    stats = [path.stat() for path in paths if path.is_file()]
    for key, size in {file_key(st): st.st_size for st in stats}.items():
        mark = marks.get(key)
        total += size - mark.offset if mark is not None and mark.offset <= size else size
    return total


def ingest_files(
    ledger: Ledger,
    settings: PixelSettings,
    paths: Sequence[Path],
    now: datetime,
    kit: Toolkit | None = None,
    progress: Callable[[int], None] | None = None,
) -> PixelReport:
    """Read what is new in `paths`, turn it into visit and job-view events and store them.

    A file that cannot be read (or whose format `[pixel] formats` leaves out) is skipped and noted in
    the report's failures; the others are read. So are lines that made a parser raise: they are
    passed (the file's offset moves beyond them), so the lines after them are read.
    `progress` is told the bytes of each stored batch (complete lines, newlines included).
    """
    kit = kit or Toolkit(settings)
    consented, merged = consented_contacts(ledger), merged_into(ledger)
    report = PixelReport()
    skipped: dict[str, SourceFailure] = {}
    crashed: dict[str, _Crashes] = {}
    while True:
        marks_now = {row[0]: FileMark(*row) for row in load_file_rows(ledger)}
        reads = _read_all(paths, marks_now, settings, skipped)
        counts = Counts(lines=sum(len(read.lines) for read in reads))
        hits: list[Hit] = []
        for read in reads:
            crashes: list[Crash] = []
            hits.extend(parse_lines(read.lines, read.format, settings, counts, read.header, crashes))
            _note_crashes(read, crashes, crashed)
            report.files.setdefault(str(read.path), read.status)
        state, scope = load_state(ledger, hits)
        outcome = process(hits, counts, state, consented, kit, now, merged)
        marks = {**state.files, **{read.mark.key: read.mark for read in reads}}
        _store(
            ledger, report, replace(outcome, state=replace(outcome.state, files=marks)), scope, settings, now
        )
        report.counts.add(counts)
        report.counts.open_hits = counts.open_hits
        if progress is not None:
            progress(sum(len(line) + 1 for read in reads for line in read.lines))
        if not any(read.more for read in reads):
            report.counts.incomplete_lines = sum(read.incomplete for read in reads)
            break
    report.failures = [*skipped.values(), *(_crash_failure(FILES, p, c) for p, c in crashed.items())]
    prune_read_hit_files(settings, paths, {row[0]: FileMark(*row) for row in load_file_rows(ledger)}, now)
    log.info("pixel_ingest_done", **_summary(report))
    return report


def ingest_api(
    ledger: Ledger,
    settings: PixelSettings,
    session: HttpSession,
    now: datetime,
    kit: Toolkit | None = None,
) -> PixelReport:
    """Read the provider's pages after the stored cursor; each page is stored with its cursor."""
    if settings.api is None:
        raise ConfigError("[pixel.api] is not configured: set url (and the auth secret in the environment)")
    kit = kit or Toolkit(settings)
    consented, merged = consented_contacts(ledger), merged_into(ledger)
    report = PixelReport()
    crashed: dict[str, _Crashes] = {}
    start = ledger.cursor(API_CURSOR)
    for page in fetch_pages(session, settings.api, start):
        counts, crashes = Counts(lines=len(page.items)), list[Crash]()
        hits = parse_items(page.items, settings, counts, crashes)
        if crashes:  # where: the page after the cursor it was asked with (`start`, then each page's)
            part = f"page after cursor {start or '(none)'}"
            crashed[part] = _Crashes(len(crashes), f"item {crashes[0].index}", crashes[0].error)
        start = page.cursor
        state, scope = load_state(ledger, hits)
        outcome = process(hits, counts, state, consented, kit, now, merged)
        cursors = {API_CURSOR: page.cursor} if page.cursor else None
        _store(ledger, report, outcome, scope, settings, now, cursors)
        report.counts.add(counts)
        report.counts.open_hits = counts.open_hits
    report.failures = [_crash_failure(API, part, c) for part, c in crashed.items()]
    log.info("pixel_api_done", **_summary(report))
    return report


def _log_shared(visitors: list[str]) -> None:
    for visitor in visitors:
        log.warning("pixel_shared_visitor", visitor_id=visitor, action="not merged further")


def _summary(report: PixelReport) -> dict[str, Any]:
    c = report.counts
    rejected = {reason.value: n for reason, n in c.rejected.items() if n}
    return {
        "lines": c.lines,
        "credited": c.credited,
        "waiting": c.waiting,
        "events_added": report.added,
        **rejected,
    }


def token_secret(settings: PixelSettings) -> bytes:
    """The configured token secret; a ConfigError naming the variable when it is not set."""
    if settings.token_secret is None:
        raise ConfigError("no token secret: set MSR_ENGAGE_PIXEL__TOKEN_SECRET (at least 16 characters)")
    return settings.token_secret.get_secret_value().encode()


def collector_folder_ready(settings: PixelSettings) -> Path:
    """The collector's output folder, created; a ConfigError when it cannot be written."""
    folder = settings.collector_folder
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)  # hit files say who browsed what: no one else lists or reads them
    except OSError as exc:
        raise ConfigError(f"[pixel.collector] folder {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"[pixel.collector] folder {folder}: not writable")
    return folder


def pixel_settings(settings: Settings) -> PixelSettings:
    """The `[pixel]` table, or its defaults (plus environment) when the config has none."""
    return settings.pixel or PixelSettings()


def make_token(settings: PixelSettings, contact_id: str, now: datetime) -> str:
    """A signed contact token for tracked links (expiring after `token_days`); InputError for a bad id."""
    expires = now + timedelta(days=settings.token_days) if settings.token_days else None
    try:
        return sign_token(contact_id, token_secret(settings), expires=expires)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def collector_server(
    settings: PixelSettings, host: str | None = None, port: int | None = None
) -> BaseWSGIServer:
    """The collector's HTTP server, bound but not yet serving (host/port override the config)."""
    if not settings.collector.public_url.startswith("https://"):
        raise ConfigError(
            "[pixel.collector] public_url: set the https:// URL browsers reach the collector at"
            " (behind the site's TLS proxy); the snippet is not served without it"
        )
    if not settings.site_hosts:
        raise ConfigError(
            '[pixel] site_hosts: name the site\'s hosts (e.g. ["www.example.nl"]): only they count'
        )
    token_secret(settings)  # the collector checks tokens itself and seals its lines with the secret
    collector_folder_ready(settings)
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update={"collector": settings.collector.model_copy(update=overrides)})
    try:
        return serve(settings)
    except OSError as exc:
        raise ConfigError(
            f"[pixel.collector] cannot listen on {settings.collector.host}:{settings.collector.port}:"
            f" {exc.strerror}"
        ) from None


def folder_files(settings: PixelSettings) -> list[Path]:
    """The entries of the `[pixel]` folder a cycle reads: all but hidden ones (none if it is missing).

    Directories and FIFOs are listed too: reading skips them as unreadable files, visibly, rather
    than passing over a hit file that is not one.
    """
    folder = settings.folder
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def http_session() -> HttpSession:
    """A plain requests session for the provider's API."""
    # requests' stubs spell out get()'s keywords, so the plain Session is cast to our narrow port.
    return cast(HttpSession, requests.Session())


def remember_run(ledger: Ledger, source: str, report: PixelReport, now: datetime) -> None:
    """Keep a source's last counts in the ledger for `status`."""
    summary = {"at": now.isoformat(), **_summary(report)}
    ledger.set_meta(f"{source} last run", json.dumps(summary, default=str))
