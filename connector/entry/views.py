"""Rich renderings of scoring results for the terminal. Presentation only."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from connector.details import Band
from connector.events import format_time
from connector.ledger.history import HistoryRow
from connector.scoring import ContactState
from connector.scoring.evaluate import MIN_BAND, MIN_CLASS, MIN_DECILES
from connector.scoring.simulate import BANDS_HOT_FIRST, EMPTY, Simulation
from connector.sf.mapping import CheckRow
from connector.shell.evaluate import EvaluationRun

_BAND_STYLE = {Band.HOT: "bold red", Band.WARM: "dark_orange", Band.LUKEWARM: "yellow", Band.COLD: "cyan"}
_RANK = {Band.HOT: 0, Band.WARM: 1, Band.LUKEWARM: 2, Band.COLD: 3}


def _day(value: date | None) -> str:
    return value.isoformat() if value else "—"


def hot_first(states: Iterable[ContactState]) -> list[ContactState]:
    """Hot first, then by score (high to low); contacts with empty details last."""
    return sorted(
        states,
        key=lambda s: (
            _RANK.get(s.details.band, 4) if s.details.band else 4,
            -(s.details.score or 0),
            s.contact_id,
        ),
    )


def contacts_table(states: Iterable[ContactState], title: str = "Contacts") -> Table:
    """One row per contact: score, band, medal and the two first dates."""
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("contact", "left"),
        ("kind", "left"),
        ("score", "right"),
        ("band", "left"),
        ("medal", "left"),
        ("first qualified", "left"),
        ("first placed", "left"),
        ("last activity", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for s in hot_first(states):
        d = s.details
        band = f"[{_BAND_STYLE[d.band]}]{d.band.value}[/]" if d.band else "—"
        table.add_row(
            s.contact_id,
            s.kind.value.replace("_", " "),
            "—" if d.score is None else str(d.score),
            band,
            d.medal.value if d.medal else "—",
            _day(d.first_qualified_on),
            _day(d.first_placed_on),
            _day(s.last_activity_on),
        )
    return table


def state_json(state: ContactState) -> str:
    """One NDJSON object for a contact's recruitment details."""
    d = state.details
    return json.dumps(
        {
            "contact_id": state.contact_id,
            "kind": state.kind.value,
            "score": d.score,
            "band": d.band.value if d.band else None,
            "medal": d.medal.value if d.medal else None,
            "first_qualified_on": d.first_qualified_on.isoformat() if d.first_qualified_on else None,
            "first_placed_on": d.first_placed_on.isoformat() if d.first_placed_on else None,
            "last_activity_on": state.last_activity_on.isoformat() if state.last_activity_on else None,
            "heating_up": d.heating_up,
            "last_engaged_by": d.last_engaged_by,
            "explanation": d.explanation,
            "lines": {rule: line.points for rule, line in state.line_facts().items()},
        }
    )


def explain_table(state: ContactState) -> Table:
    """Every score line with its points now, cap, expiry and the events behind it."""
    d = state.details
    band = d.band.value if d.band else "—"
    score = "—" if d.score is None else d.score
    medal = d.medal.value if d.medal else "—"
    kind = state.kind.value.replace("_", " ")
    title = (
        f"{state.contact_id} ({kind}): score {score}, band {band}, medal {medal},"
        f" first qualified {_day(d.first_qualified_on)}, first placed {_day(d.first_placed_on)}"
        + (", heating up" if d.heating_up else "")
    )
    table = Table(title=title, title_justify="left", show_lines=True, caption=d.explanation)
    table.add_column("line")
    table.add_column("points", justify="right")
    table.add_column("note")
    table.add_column("events (time UTC: points, status, counts until)")
    for line in state.lines:
        notes = []
        if line.capped:
            notes.append("capped at max_points")
        if line.last_counted_on:
            notes.append(f"{line.counted} counted, latest {line.last_counted_on.isoformat()}")
        if line.expires_on:
            notes.append(f"next expiry {line.expires_on.isoformat()}")
        events = "\n".join(
            f"{format_time(e.at)}: {e.points:+d} {e.status}"
            + (f" until {e.expires_on.isoformat()}" if e.expires_on else "")
            for e in line.events
        )
        table.add_row(line.name, f"{line.points:+d}", "; ".join(notes), events)
    if not state.lines:
        table.add_row("(no lines)", "0", "no event matched a rule with points", "")
    return table


def simulation_view(sim: Simulation) -> list[str | Table]:
    """Band shift matrix, medal changes and the largest score changes, each under a heading line."""
    matrix = Table()
    matrix.add_column("from \\ to")
    for band in BANDS_HOT_FIRST:
        matrix.add_column(band, justify="right")
    for source in BANDS_HOT_FIRST:
        matrix.add_row(source, *(str(sim.band_shifts.get((source, target), 0)) for target in BANDS_HOT_FIRST))
    medals = Table()
    medals.add_column("from")
    medals.add_column("to")
    medals.add_column("contacts", justify="right")
    for (old, new), count in sorted(sim.medal_changes.items()):
        medals.add_row(old, new, str(count))
    largest = Table()
    for name in ("contact", "now", "proposed", "change"):
        largest.add_column(name, justify="left" if name == "contact" else "right")
    for change in sim.largest:
        largest.add_row(change.contact_id, str(change.before), str(change.after), f"{change.delta:+d}")
    return [
        f"Band shifts ({sim.contacts} contacts, {sim.changed} would change)",
        matrix,
        f"Medal changes (lowered: {sim.medals_lowered}; medals are never lowered)",
        medals,
        f"Largest score changes (top {len(sim.largest)})",
        largest,
    ]


def progress(console: Console) -> Progress:
    """A progress bar on stderr for long jobs (re-score, simulate)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # off a terminal rich would still end with a blank line
    )


def band_summary(states: Iterable[ContactState]) -> str:
    """'hot 41 · warm 32 · ...' counts, hot first, then contacts with no score."""
    counts: dict[str, int] = {}
    for s in states:
        key = s.details.band.value if s.details.band else EMPTY
        counts[key] = counts.get(key, 0) + 1
    return " · ".join(f"{name} {counts.get(name, 0)}" for name in BANDS_HOT_FIRST)


def cycle_line(summary: dict[str, object]) -> str:
    """One line summing up a sync cycle."""
    fetched = summary.get("fetched") or {}
    reads = ", ".join(f"{k} {v}" for k, v in fetched.items()) if isinstance(fetched, dict) else ""
    line = (
        f"{summary['status']}: read {reads or 'nothing'}; {summary['events_added']} new events;"
        f" {summary['scored']} contacts scored; {summary['planned']} to update ({summary['writes']} records);"
        f" {summary['succeeded']} written, {summary['dead']} dead-lettered, {summary['retriable']} to retry,"
        f" {summary['not_sent']} not sent"
    )
    failures = summary.get("failures") or {}
    if isinstance(failures, dict) and failures:
        line += "; skipped " + ", ".join(f"{k} ({v})" for k, v in failures.items())
    return line + (f" — {summary['reason']}" if summary.get("reason") else "")


def plan_table(plans: Iterable[Any], title: str = "Write plan (nothing written)") -> Table:
    """What a cycle would write: per contact the changed fields and score lines."""
    table = Table(title=title, title_justify="left")
    table.add_column("contact", no_wrap=True)
    table.add_column("fields")
    table.add_column("score lines")
    for plan in plans:
        fields = ", ".join(f"{k}={v}" for k, v in plan.values.items())
        lines = ", ".join(f"{k}={v.points}" for k, v in sorted(plan.lines.items()))
        table.add_row(plan.contact_id, fields or "—", lines or "—")
    return table


def plan_summary(plans: Iterable[Any], title: str = "Write plan summary (nothing written)") -> Table:
    """How many contacts would get each Contact field and each score line written, instead of every row."""
    counts: Counter[tuple[str, str]] = Counter()
    contacts = 0
    for plan in plans:
        contacts += 1
        counts.update(("Contact field", name) for name in plan.values)
        counts.update(("score line", name) for name in plan.lines)
    table = Table("writes", "name", "contacts", title=f"{title}: {contacts} contacts", title_justify="left")
    for (what, name), count in sorted(counts.items()):
        table.add_row(what, name, str(count))
    return table


def key_values(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    """A two-column table of facts."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in rows:
        table.add_row(key, str(value))
    return table


def dead_letter_table(letters: Iterable[Any]) -> Table:
    """Writes the org refused for good, with its error."""
    table = Table(title="Dead letters", title_justify="left")
    for name in ("id", "contact", "object", "key", "error", "message", "failed at"):
        table.add_column(name)
    for d in letters:
        table.add_row(str(d.id), d.contact_id, d.object, d.key_value, d.error_code, d.message, d.failed_at)
    return table


def check_table(rows: Iterable[CheckRow], title: str) -> Table:
    """`check`'s rows: what, ok / warn / FAIL, what was found, what to do."""
    table = Table("check", "result", "found", "what to do", title=title)
    for row in rows:
        verdict = (
            "[red]FAIL[/red]" if not row.ok else "[yellow]WARN[/yellow]" if row.warn else "[green]ok[/green]"
        )
        table.add_row(escape(row.item), verdict, escape(row.detail), escape(row.fix))
    return table


def checklist_table(lines: Iterable[tuple[str, bool | None]]) -> Table:
    """The checklist of docs/implementing.md, each line passed, not passed or not checked."""
    table = Table("", "checklist (docs/implementing.md)", title="Checklist")
    marks = {
        True: "[green]passed[/green]",
        False: "[red]NOT PASSED[/red]",
        None: "[yellow]not checked[/yellow]",
    }
    for line, passed in lines:
        table.add_row(marks[passed], escape(line))
    return table


def _share(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "not enough data"


def _ratio(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "not enough data"


def evaluation_view(run: EvaluationRun, labels: Sequence[str]) -> list[str | Table]:
    """Per band (n, outcome rate with its 95 % interval, lift) for each rule set side by side, then
    the overall figures."""
    first, last = run.snapshots[0], run.snapshots[-1]
    heading = (
        f"Outcome {run.outcome} within {run.horizon.days} days of each of {len(run.snapshots)} snapshots"
        f" ({first:%Y-%m-%d} … {last:%Y-%m-%d}); figures below {MIN_BAND} per band, {MIN_CLASS}"
        f" outcomes or {MIN_DECILES} observations are not enough data"
    )
    bands = Table()
    bands.add_column("band")
    for label in labels:
        for name in ("n", "outcomes", "rate", "95 % interval", "lift"):
            bands.add_column(f"{label} {name}" if len(labels) > 1 else name, justify="right")
    for index, band in enumerate(BANDS_HOT_FIRST):
        cells = [band]
        for result in run.results:
            row = result.bands[index]
            interval = (
                f"{row.low:.1%}-{row.high:.1%}" if row.low is not None and row.high is not None else "—"
            )
            cells += [str(row.n), str(row.outcomes), _share(row.rate), interval, _ratio(row.lift)]
        bands.add_row(*cells)
    overall = Table()
    overall.add_column("rules")
    for name in ("evaluated", "outcomes", "base rate", "AUC", "top-decile lift"):
        overall.add_column(name, justify="right")
    for label, result in zip(labels, run.results, strict=True):
        auc = f"{result.auc:.3f}" if result.auc is not None else "not enough data"
        overall.add_row(
            label,
            str(result.n),
            str(result.outcomes),
            _share(result.base_rate),
            auc,
            _ratio(result.top_decile_lift),
        )
    return [heading, bands, overall]


def history_table(contact_id: str, rows: Sequence[HistoryRow]) -> Table:
    """One row per nightly pass, with the score's move since the pass before."""
    table = Table(title=f"Score history of {escape(contact_id)} ({len(rows)} nightly passes)")
    for name in ("pass", "score", "change", "band", "medal"):
        table.add_column(name, justify="right" if name in {"score", "change"} else "left")
    previous: int | None = None
    for row in rows:
        move = f"{row.score - previous:+d}" if row.score is not None and previous is not None else ""
        table.add_row(
            f"{row.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
            "—" if row.score is None else str(row.score),
            move,
            row.band or "—",
            row.medal or "—",
        )
        previous = row.score
    return table
