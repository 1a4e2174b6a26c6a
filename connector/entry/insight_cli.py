"""The insight commands: does the band predict the outcome (`evaluate`), and what new rules would do
(`simulate`, with `--evaluate` beside the rules in force)."""

from __future__ import annotations

import csv
import re
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from connector.config import Settings
from connector.entry import bootstrap, views
from connector.entry.options import ConfigOption, NowOption, err, out
from connector.entry.report_html import render
from connector.errors import InputError
from connector.ledger import Ledger
from connector.ledger.history import history_of
from connector.scoring.evaluate import OUTCOMES
from connector.shell import rescore as jobs
from connector.shell.evaluate import evaluate as evaluate_ledger
from connector.shell.rules import rules_in_force_of

_DAYS = re.compile(r"(\d+)([dw])")
OutcomeOption = Annotated[
    str, typer.Option("--outcome", help="What the band should predict: intake, proposed or placed.")
]
HorizonOption = Annotated[
    str, typer.Option("--horizon", help="How soon after a snapshot the outcome must follow (e.g. 30d, 6w).")
]
EveryOption = Annotated[str, typer.Option("--every", help="Time between snapshots (e.g. 7d).")]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="First snapshot, YYYY-MM-DD (default: a period after the first event a rule scores).",
        show_default=False,
    ),
]
HtmlOption = Annotated[
    Path | None,
    typer.Option(
        "--html",
        help="Also write a self-contained HTML report (plots, tables) to this file.",
        show_default=False,
    ),
]


def days(option: str, text: str) -> timedelta:
    """A period given as days (`30d`) or weeks (`6w`); anything else is bad input."""
    found = _DAYS.fullmatch(text.strip())
    if found is None or int(found[1]) == 0:
        raise InputError(f"{option}: expected a period such as 30d or 6w, not {text!r}")
    return timedelta(days=int(found[1]) * (7 if found[2] == "w" else 1))


def _since(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--since: expected a date as YYYY-MM-DD, not {text!r}") from None


def _outcome(text: str) -> str:
    if text not in OUTCOMES:
        raise InputError(f"--outcome: must be one of {', '.join(OUTCOMES)}, not {text!r}")
    return text


def _report(
    ledger: Ledger,
    rule_sets: list[Settings],
    labels: list[str],
    *,
    outcome: str,
    horizon: str,
    every: str,
    since: str | None,
    html: Path | None,
    now: str | None,
) -> None:
    """Evaluate the rule sets on the same snapshots; print the tables, write the page if asked."""
    with views.progress(err) as bar:  # on a terminal: contacts evaluated, of all in the ledger
        task = bar.add_task("evaluating", total=ledger.count_contacts())
        run = evaluate_ledger(
            ledger,
            rule_sets,
            outcome=_outcome(outcome),
            horizon=days("--horizon", horizon),
            every=days("--every", every),
            since=_since(since),
            now=bootstrap.clock(now),
            progress=lambda n: bar.advance(task, n),
        )
    for part in views.evaluation_view(run, labels):
        out.print(part)
    if html is not None:
        try:
            html.write_text(render(run, labels), encoding="utf-8")
        except OSError as exc:
            raise InputError(f"--html: cannot write {html}: {exc.strerror}") from None
        out.print(f"report written to {escape(str(html))}")


def evaluate(
    outcome: OutcomeOption = "placed",
    horizon: HorizonOption = "30d",
    since: SinceOption = None,
    every: EveryOption = "7d",
    html: HtmlOption = None,
    config: ConfigOption = None,
    now: NowOption = None,
) -> None:
    """Does the band predict the outcome? Past snapshots rebuilt from the ledger, scored as they stood."""
    settings = bootstrap.scoring_settings(config)
    with bootstrap.open_existing_ledger() as ledger:
        in_force = rules_in_force_of(ledger, settings)
        _report(
            ledger,
            [in_force],
            ["rules in force"],
            outcome=outcome,
            horizon=horizon,
            every=every,
            since=since,
            html=html,
            now=now,
        )


def simulate(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="The proposed config.toml to preview.")
    ] = None,
    current: Annotated[
        Path | None,
        typer.Option("--current", help="The config in force (default: the rules the ledger last applied)."),
    ] = None,
    proposed_evaluation: Annotated[
        Path | None,
        typer.Option(
            "--evaluate",
            help="Evaluate this proposed config.toml beside the rules in force.",
            show_default=False,
        ),
    ] = None,
    outcome: OutcomeOption = "placed",
    horizon: HorizonOption = "30d",
    since: SinceOption = None,
    every: EveryOption = "7d",
    html: HtmlOption = None,
    now: NowOption = None,
) -> None:
    """Preview new rules against the whole ledger without writing: band shifts, medals, top changes;
    with --evaluate, how well each rule set predicts the outcome, side by side."""
    if (config is None) == (proposed_evaluation is None):
        raise InputError("simulate: pass the proposed rules as --config (preview) or --evaluate (evaluation)")
    if proposed_evaluation is not None:
        proposed = bootstrap.scoring_settings(proposed_evaluation)
        with bootstrap.open_existing_ledger() as ledger:
            in_force = (
                bootstrap.settings_from(current)
                if current is not None
                else rules_in_force_of(ledger, proposed)
            )
            _report(
                ledger,
                [in_force, proposed],
                ["current", "proposed"],
                outcome=outcome,
                horizon=horizon,
                every=every,
                since=since,
                html=html,
                now=now,
            )
        return
    assert config is not None
    proposed, moment = bootstrap.scoring_settings(config), bootstrap.clock(now)
    with bootstrap.open_ledger() as ledger, views.progress(err) as bar:
        in_force = (
            bootstrap.settings_from(current) if current is not None else rules_in_force_of(ledger, proposed)
        )
        task = bar.add_task("simulating", total=ledger.count_contacts())
        result = jobs.simulate(ledger, in_force, proposed, moment, progress=lambda n: bar.advance(task, n))
    for part in views.simulation_view(result):
        out.print(part)


def history(
    contact_id: str,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Print CSV (pass, score, band, medal) instead.")
    ] = False,
) -> None:
    """What one contact showed after each nightly pass: score, band, medal.

    Needs no config: the history is in the ledger, noted there by each nightly pass.
    """
    with bootstrap.open_existing_ledger() as ledger:
        rows = history_of(ledger, contact_id)
    if not rows:
        raise InputError(
            f"{contact_id}: no score history (the nightly pass notes it; none has seen this contact)"
        )
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["pass_at", "score", "band", "medal"])
        for row in rows:
            writer.writerow(
                [row.at.isoformat(), "" if row.score is None else row.score, row.band or "", row.medal or ""]
            )
        return
    out.print(views.history_table(contact_id, rows))


def register(app: typer.Typer) -> None:
    """Add the insight commands to the main command line."""
    app.command()(evaluate)
    app.command()(simulate)
    app.command()(history)
