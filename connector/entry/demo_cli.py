"""`msr-engage demo`: the live demo against the bundled emulator (or `--sample`, offline), and what it
points at when it ends: the evaluation report it wrote and one contact's score history."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from connector import paths
from connector.config import Settings, load_settings
from connector.demo import live as live_demo
from connector.demo import sample as sample_demo
from connector.demo.live import DemoSummary
from connector.entry import bootstrap, views
from connector.entry.options import command_name, out
from connector.entry.report_html import render
from connector.ledger import Ledger
from connector.ledger.history import history_of, most_changed
from connector.log import configure_logging
from connector.shell.evaluate import EvaluationRun
from connector.shell.evaluate import evaluate as evaluate_ledger

REPORT = "evaluation.html"


def demo(
    sample: Annotated[
        bool, typer.Option("--sample", help="Offline: only score a bundled sample of activity (no org).")
    ] = False,
    rows: Annotated[int, typer.Option("--rows", help="With --sample: contacts to show, hot first.")] = 25,
    ticks: Annotated[int, typer.Option("--ticks", help="Simulated 3-hour steps of org time.")] = 24,
    pace: Annotated[
        float | None, typer.Option("--pace", help="Seconds between steps (default: 1 on a terminal, else 0).")
    ] = None,
) -> None:
    """Sync a local emulated MSR org while simulated recruiters work, and show the fields change live.

    Needs no config: it runs its own emulator with the bundled example rules, in MSR_ENGAGE_HOME/demo.
    It ends with an evaluation of the bands against placements and one contact's score history.
    """
    settings = load_settings(paths.example_config())
    if sample:
        _sample_demo(settings, rows)
        return
    configure_logging(level=logging.WARNING)  # cycle logs would tear the live view apart
    pace = (1.0 if sys.stdout.isatty() else 0.0) if pace is None else pace
    folder = paths.state_home() / "demo"
    summary = live_demo.run(folder, settings, out, ticks=ticks, pace=pace)
    _closing(summary)
    with Ledger(folder / "ledger.db") as ledger:
        _insight(ledger, settings, summary)
    again = command_name()
    out.print(
        f"Ledger: {folder / 'ledger.db'}   Look around: MSR_ENGAGE_HOME={folder} {again} status",
        soft_wrap=True,
    )
    out.print(f"Rules used: {paths.example_config()}")


def _closing(summary: DemoSummary) -> None:
    cycles = sorted(summary.cycle_seconds)
    out.print()
    out.print(
        f"{summary.ticks} steps of {summary.hours_per_tick:g} h org time ({summary.nightly} nightly passes):"
        f" {summary.step_moves} application steps moved, {summary.org_changes} Contact field changes"
        " written by the connector."
    )
    out.print(
        f"Cycle time: median {cycles[len(cycles) // 2]:.2f} s, max {cycles[-1]:.2f} s (first cycle reads the"
        f" whole 90-day org). {len(summary.latencies)} scoring step moves reached the Contact fields, the"
        f" slowest after {max(summary.latencies, default=0):.1f} h of org time (one step = the next poll);"
        f" {summary.unseen} not yet."
    )
    out.print(
        f"Website: {summary.hits} pixel hits read; {summary.visits} Website visit and {summary.job_views}"
        " Website job view records written for contacts with tracking consent."
    )


def _insight(ledger: Ledger, settings: Settings, summary: DemoSummary) -> None:
    """Does the band predict placement on this (synthetic) org? Print it, write the report, and show
    the history of the contact that moved most."""
    folder, again = summary.folder, command_name()
    assert summary.ended_at is not None  # set by the last cycle
    run = evaluate_ledger(
        ledger, [settings], outcome="placed", horizon=timedelta(days=30), every=timedelta(days=7),
        since=None, now=summary.ended_at,
    )  # fmt: skip
    report = folder / REPORT
    report.write_text(render(run, ["example rules"]), encoding="utf-8")
    out.print()
    out.print(_headline(run))
    for part in views.evaluation_view(run, ["example rules"]):
        out.print(part)
    out.print(f"Report (plots, opens offline): {report}", soft_wrap=True)
    yours = f"MSR_ENGAGE_HOME={folder} {again} evaluate --config {_example()} --html r.html"
    out.print(f"Yours: {yours}", soft_wrap=True)
    contact = most_changed(ledger)
    if contact is None:
        return
    out.print()
    out.print(views.history_table(contact, history_of(ledger, contact)))
    out.print(f"Its history: MSR_ENGAGE_HOME={folder} {again} history {contact}", soft_wrap=True)


def _headline(run: EvaluationRun) -> str:
    """One sentence: placed within the horizon, hot against cold."""
    result = run.results[0]
    rates = {row.band: row.rate for row in result.bands}
    hot, cold = rates.get("hot"), rates.get("cold")
    if hot is None or cold is None:
        return "Does the band predict placement? Not enough data in this demo's ledger to tell."
    auc = f", AUC {result.auc:.2f}" if result.auc is not None else ""
    return (
        f"Does the band predict placement? In this demo org (synthetic: its eager candidates both engage"
        f" and get placed more) {hot:.0%} of hot and {cold:.0%} of cold candidates were placed within"
        f" {run.horizon.days} days of a weekly snapshot{auc}."
    )


def _example() -> str:
    return "config.example.toml" if Path("config.example.toml").exists() else str(paths.example_config())


def _sample_demo(settings: Settings, rows: int) -> None:
    moment = bootstrap.clock()
    folder = paths.state_home() / "demo-sample"
    result = sample_demo.run_demo(folder, settings, moment)
    shown = views.hot_first(result.states)[:rows]
    out.print(
        views.contacts_table(shown, title=f"Top {len(shown)} of {len(result.states)} contacts, hot first")
    )
    out.print(f"Bands: {views.band_summary(result.states)}")
    out.print(f"Events: {result.events_file}  ({result.events} events, {len(result.states)} contacts)")
    out.print(f"Ledger: {result.ledger_file}")
    top = shown[0].contact_id if shown else "CONTACT_ID"
    again = f"MSR_ENGAGE_HOME={folder} {command_name()} explain {top} --config {_example()}"
    out.print(f"Why is {top} on top?  {again}", soft_wrap=True)  # one line: it must paste


def register(app: typer.Typer) -> None:
    """Add the demo command to the main command line."""
    app.command()(demo)
