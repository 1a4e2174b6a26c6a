"""`msr-engage pixel ...`: reading hit files once, tracked-link tokens, our own collector."""

from __future__ import annotations

import json
import re
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import structlog
import typer
from rich.markup import escape

from connector import paths
from connector.config import load_settings
from connector.config.pixel import PixelSettings
from connector.entry import bootstrap, views
from connector.entry.options import NowOption, PixelConfigOption, err, out
from connector.errors import InputError
from connector.pixel.collector import collector_counts
from connector.pixel.pipeline import Counts
from connector.shell.stages import FailureReason

SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
pixel_app = typer.Typer(
    pretty_exceptions_enable=False,  # its tracebacks show locals: a private key, a secret
    help="Website visitors: pixel hits in, consented visits and vacancy views out.",
    no_args_is_help=True,
    rich_markup_mode=None,  # keep [pixel.collector] in the help as written
)


def _pixel_settings(config: Path | None) -> PixelSettings:
    # The pixel needs no scoring rules, so built-in defaults (plus environment) are a valid start.
    return load_settings(config or paths.default_config_path()).pixel or PixelSettings()


@pixel_app.command("ingest")
def pixel_ingest(
    files: Annotated[list[Path], typer.Argument(help="Hit files: NDJSON, CSV or web-server access logs.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with all counts.")] = False,
    config: PixelConfigOption = None,
    now: NowOption = None,
) -> None:
    """Read what is new in pixel hit files once; store consented visits and job views in the ledger."""
    from connector.shell import pixel as pixel_jobs

    settings, moment = _pixel_settings(config), bootstrap.clock(now)
    with bootstrap.open_ledger() as ledger, views.progress(err) as bar:
        task = bar.add_task("reading hits", total=pixel_jobs.unread_bytes(ledger, files))
        report = pixel_jobs.ingest_files(
            ledger, settings, files, moment, progress=lambda n: bar.advance(task, n)
        )
    if as_json:
        typer.echo(json.dumps(report.as_dict(), sort_keys=True))
    else:
        _print_pixel_counts(report.counts, report.added)
    for failure in report.failures:
        err.print(f"[yellow]{failure.reason.value}[/yellow] {escape(failure.part)}: {escape(failure.detail)}")
    # The other files were read and stored; a file asked for by name that could not be is still an
    # input error (exit 2). Lines that made a parser raise are counted rejections, not that.
    unread = [f"{f.part}: {f.detail}" for f in report.failures if f.reason is not FailureReason.PARSER_CRASH]
    if unread:
        raise InputError(unread)


def _print_pixel_counts(c: Counts, added: int) -> None:
    out.print(
        f"lines {c.lines}: credited {c.credited}, waiting {c.waiting}, rejected {sum(c.rejected.values())}"
    )
    for reason, count in sorted(c.rejected.items()):
        out.print(f"  {reason.value}: {count}")
    out.print(f"events added {added} ({c.visits} visits, {c.job_views} job views), {c.open_hits} hits open")


@pixel_app.command("token")
def pixel_token(contact_id: str, config: PixelConfigOption = None) -> None:
    """Print a signed contact token for tracked links (?mt=TOKEN); needs MSR_ENGAGE_PIXEL__TOKEN_SECRET."""
    from connector.shell import pixel as pixel_jobs

    if not SALESFORCE_ID.fullmatch(contact_id):
        raise InputError(f"{contact_id}: not a Salesforce id (15 or 18 letters and digits, like 003...)")
    typer.echo(pixel_jobs.make_token(_pixel_settings(config), contact_id, datetime.now(UTC)))


@pixel_app.command("serve")
def pixel_serve(
    config: PixelConfigOption = None,
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default: [pixel.collector] host).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: [pixel.collector] port; 0: any).")] = None,
) -> None:
    """Run our own pixel collector (1x1 GIF + /p.js snippet) until Ctrl-C or SIGTERM, writing NDJSON hits."""
    from connector.shell import pixel as pixel_jobs

    settings = _pixel_settings(config)
    server = pixel_jobs.collector_server(settings, host, port)
    signal.signal(signal.SIGTERM, _interrupt)  # `docker stop` / systemd: a clean stop, exit 0 like Ctrl-C
    try:
        out.print(
            f"pixel collector on {server.host}:{server.server_port}, hits to {settings.collector_folder}"
        )
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        structlog.get_logger(__name__).info("pixel_collector_stopped", **collector_counts(server))


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
