"""The `msr-engage` command line: each command a few lines that wire the pieces together."""

from __future__ import annotations

import os
import sqlite3
import sys
from contextlib import nullcontext
from datetime import UTC, date, datetime, time
from typing import Annotated

import typer
from rich.markup import escape

from connector import paths, sf
from connector.entry import bootstrap, views
from connector.entry.daemon import Daemon, instance_lock
from connector.entry.demo_cli import register as register_demo
from connector.entry.emulator_cli import emulator_app
from connector.entry.insight_cli import register as register_insight
from connector.entry.options import ConfigOption, KindsConfigOption, NowOption, err, out
from connector.entry.pixel_cli import pixel_app
from connector.entry.privacy_cli import register as register_privacy
from connector.entry.progress import watched
from connector.errors import ConfigError, InputError, MsrEngageError
from connector.events import EventReader
from connector.ledger.sync_state import dead_letters
from connector.log import configure_logging
from connector.sf.org_check import checklist
from connector.shell import rescore as jobs
from connector.shell.apply import retry_dead_letters
from connector.shell.consent import ingest_events
from connector.shell.cycle import backfill_plan, run_backfill
from connector.shell.org_check import discover_note, org_check
from connector.shell.service import CycleService
from connector.shell.status import status_facts

app = typer.Typer(
    pretty_exceptions_enable=False,  # its tracebacks show locals: a private key, a secret
    help="msr-engage: lead scores, bands and medals for Mysolution Recruitment candidates.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # help text names TOML tables like [pixel.collector]: rich markup would eat them
)
SkipOption = Annotated[
    bool, typer.Option("--skip-invalid", help="Count and report bad lines instead of stopping at the first.")
]
EventsArg = Annotated[str, typer.Argument(help="NDJSON events file, or - for standard input.")]


def _report_rejections(reader: EventReader, *, valid: int) -> None:
    """Each skipped line, then their count; nothing valid at all is bad input, not an empty success."""
    for rejection in reader.rejected:
        err.print(f"[yellow]skipped[/yellow] {escape(str(rejection))}", highlight=False)
    if not reader.rejected:
        return
    if valid == 0:
        raise InputError(f"{reader.source}: no valid events ({len(reader.rejected)} invalid lines skipped)")
    err.print(f"skipped {len(reader.rejected)} invalid lines", highlight=False)


@app.command()
def score(
    events: EventsArg,
    config: ConfigOption = None,
    now: NowOption = None,
    fmt: Annotated[
        str, typer.Option("--format", help="ndjson (one object per contact) or table.")
    ] = "ndjson",
    skip_invalid: SkipOption = False,
) -> None:
    """Score an NDJSON events file without a ledger and print each contact's details."""
    if fmt not in ("ndjson", "table"):
        raise InputError(f"--format: must be ndjson or table, not {fmt!r}")
    settings, moment = bootstrap.scoring_settings(config), bootstrap.clock(now)
    with bootstrap.event_reader(events, skip_invalid=skip_invalid) as reader:
        states = jobs.score_events(reader, settings, moment)
    _report_rejections(reader, valid=len(states))
    if fmt == "table":
        out.print(views.contacts_table(states, title=f"Scores as of {moment:%Y-%m-%d %H:%M} UTC"))
    else:
        for state in states:
            typer.echo(views.state_json(state))


@app.command()
def ingest(events: EventsArg, skip_invalid: SkipOption = False, config: KindsConfigOption = None) -> None:
    """Append an NDJSON events file to the ledger; events already there are not added twice.

    The config is read only for the event kinds its sources make; rescore or sync --once scores the events.
    """
    kinds = bootstrap.known_kinds(config)
    with (
        bootstrap.open_ledger() as ledger,
        bootstrap.event_reader(events, skip_invalid=skip_invalid, kinds=kinds) as reader,
    ):
        result, withdrawn = ingest_events(ledger, reader, bootstrap.clock())
    _report_rejections(reader, valid=result.added + result.duplicates)
    out.print(f"added {result.added}, duplicate {result.duplicates}, rejected {len(reader.rejected)}")
    if withdrawn:  # the next cycle deletes their visit and job-view records in the org
        out.print(f"tracking consent withdrawn for {len(withdrawn)} contacts: their web data is deleted")


@app.command()
def rescore(
    everyone: Annotated[
        bool, typer.Option("--all", help="Re-score every contact, not only changed ones.")
    ] = False,
    config: ConfigOption = None,
    now: NowOption = None,
) -> None:
    """Re-score contacts whose events changed (or all) and store their state in the ledger."""
    settings, moment = bootstrap.scoring_settings(config), bootstrap.clock(now)
    with instance_lock(paths.state_home()), bootstrap.open_ledger() as ledger, views.progress(err) as bar:
        total = ledger.count_contacts() if everyone else len(ledger.dirty_contacts())
        task = bar.add_task("re-scoring", total=total)
        result = jobs.rescore(
            ledger, settings, moment, everyone=everyone, progress=lambda n: bar.advance(task, n)
        )
    out.print(f"scored {result.scored} contacts, {result.changed} changed")


@app.command()
def explain(contact_id: str, config: ConfigOption = None, now: NowOption = None) -> None:
    """Show every score line of one contact and the events behind it."""
    settings, moment = bootstrap.scoring_settings(config), bootstrap.clock(now)
    with bootstrap.open_existing_ledger() as ledger:
        state = jobs.explain(ledger, settings, contact_id, moment)
    if state is None:
        raise InputError(f"{contact_id}: no events for this contact in the ledger ({paths.ledger_path()})")
    out.print(views.explain_table(state))


@app.command()
def discover(config: ConfigOption = None) -> None:
    """Print a proposed [salesforce.objects] mapping for this org, marking what it could not find."""
    client = sf.connect(sf.require(bootstrap.settings_from(config)))
    proposals = sf.discover(client)
    text = sf.proposal_toml(proposals) + discover_note(client, proposals)
    out.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command()
def check(config: ConfigOption = None) -> None:
    """Verify login, the user, mapped objects, fields and access, rules, budget; exit 0 only if all pass."""
    full = bootstrap.settings_from(config)
    settings = sf.require(full)
    rows = org_check(full, settings, lambda: sf.connect(settings))
    out.print(views.check_table(rows, f"Salesforce org at {settings.login_url}"))
    out.print(views.checklist_table(checklist(rows)))
    if not all(row.ok for row in rows):
        raise typer.Exit(1)


@app.command(name="sync")
def sync_once(
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle and exit (the daemon is `run`).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the write plan; write nothing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Apply a rule change even above max_change_share.")
    ] = False,
    daily: Annotated[
        bool, typer.Option("--daily", help="Run the nightly pass now (re-score everyone).")
    ] = False,
    summary: Annotated[
        bool, typer.Option("--summary", help="With --dry-run: counts, not every row.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Run one sync cycle as the daemon does (the pixel included): read, score, write back what changed."""
    if not once:
        raise InputError("sync needs --once (to keep syncing on a schedule, run: msr-engage run)")
    if summary and not dry_run:
        raise InputError("--summary: only with --dry-run (it summarises the write plan)")
    settings = bootstrap.scoring_settings(config)
    with (
        instance_lock(paths.state_home()),
        bootstrap.org_connection(settings) as (client, _),
        watched(client, err) as (org, _),
    ):
        service = CycleService(settings, bootstrap.open_ledger, org)
        outcome = service.cycle("daily" if daily else "poll", bootstrap.clock(), dry_run=dry_run, force=force)
    if outcome.stop is not None:
        raise outcome.stop
    report = outcome.report
    if report is None:
        raise typer.Exit(1)
    if dry_run:
        out.print(views.plan_summary(report.plan) if summary else views.plan_table(report.plan))
    out.print(views.cycle_line(report.summary()), highlight=False)
    if not report.status.succeeded:
        raise typer.Exit(1)


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the daemon: poll the org on a schedule and re-score everyone daily, until SIGTERM."""
    settings = bootstrap.scoring_settings(config)
    with instance_lock(paths.state_home()):
        client = bootstrap.org_client(settings)  # logged in by the daemon, which waits for the org
        Daemon(settings, bootstrap.open_ledger, client, login=client.connect).run()


@app.command()
def backfill(
    since: Annotated[str, typer.Option("--since", help="Read the org from this date (YYYY-MM-DD, UTC).")],
    force: Annotated[bool, typer.Option("--force", help="Write even above max_change_share.")] = False,
    config: ConfigOption = None,
) -> None:
    """Read the org's history from a date in windows sized to its volume, then score and write."""
    settings, now = bootstrap.scoring_settings(config), bootstrap.clock()
    try:
        start = datetime.combine(date.fromisoformat(since), time.min, tzinfo=UTC)
    except ValueError:
        raise InputError(f"--since: expected a date as YYYY-MM-DD, not {since!r}") from None
    if start > now:
        raise InputError(f"--since: {since} is in the future (today is {now:%Y-%m-%d} UTC)")
    with (
        instance_lock(paths.state_home()),
        bootstrap.org_connection(settings) as (client, ledger),
        watched(client, err) as (org, bars),
    ):
        windows = backfill_plan(org, settings, start, now)
        total = sum(len(w) for w in windows.values())
        task = bars.add_task("backfill windows", total=total, detail=f"0 of {total}")

        def window_done(n: int) -> None:
            bars.advance(task, n)
            bars.update(task, detail=f"{int(bars.tasks[task].completed)} of {total}")

        report = run_backfill(org, ledger, settings, now, windows, force=force, progress=window_done)
    out.print(views.cycle_line(report.summary()), highlight=False)
    if not report.status.succeeded:
        raise typer.Exit(1)


@app.command()
def status() -> None:
    """Show ledger counts and cursors, writes waiting, the last cycle, dead letters, API usage, breaker.

    Needs no config: all it shows is kept in the ledger of the state folder (MSR_ENGAGE_HOME).
    """
    with bootstrap.open_existing_ledger() as ledger:
        facts = status_facts(ledger)
    for title, rows in facts.items():
        out.print(views.key_values(title, rows))


@app.command(name="dead-letters")
def dead_letters_command(
    retry: Annotated[
        bool, typer.Option("--retry", help="Forget them so the next cycle re-scores and writes them again.")
    ] = False,
) -> None:
    """List writes the org refused for good; --retry queues them for the next cycle.

    Needs no config: the dead letters are in the ledger; the next cycle, with its config, writes them.
    """
    lock = instance_lock(paths.state_home()) if retry else nullcontext()
    opened = bootstrap.open_ledger if retry else bootstrap.open_existing_ledger
    with lock, opened() as ledger:
        letters = dead_letters(ledger)
        out.print(views.dead_letter_table(letters))
        if retry:
            cleared = retry_dead_letters(ledger)
            out.print(
                f"{cleared} dead letters cleared: the next cycle (or sync --once) re-scores and writes those"
                " contacts again"
            )


app.add_typer(emulator_app, name="emulator")
app.add_typer(pixel_app, name="pixel")
register_demo(app)
register_privacy(app)
register_insight(app)


@app.command()
def version() -> None:
    """Print the installed msr-engage version.

    Needs no config: the version is the installed package's.
    """
    from connector import __version__

    out.print(__version__)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning our errors into one-line messages and exit codes."""
    os.umask(paths.PRIVATE_UMASK)  # ledger, WAL, lock, hit files: for this user only
    configure_logging()
    try:
        app(args=argv, prog_name="msr-engage")
    except (ConfigError, InputError) as exc:
        kind = "config" if isinstance(exc, ConfigError) else "input"
        for problem in exc.problems:
            err.print(f"[red]{kind} error:[/red] {escape(problem)}", highlight=False)
        sys.exit(2)
    except MsrEngageError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(1)
    except (sqlite3.Error, OSError) as exc:  # a read-only or full disk, a folder we may not write
        err.print(f"[red]error:[/red] {escape(paths.unusable_state(exc))}", highlight=False)
        sys.exit(1)
