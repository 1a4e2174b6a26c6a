"""The `msr-engage` command line: each command a few lines that wire the pieces together."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from connector import paths
from connector.config import Settings, load_settings
from connector.errors import ConfigError, InputError, MsrEngageError
from connector.log import configure_logging

app = typer.Typer(
    help="msr-engage: lead scores, bands and medals for Mysolution Recruitment candidates.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="config.toml to use (default: $MSR_ENGAGE_CONFIG, else ./config.toml, else built-in defaults).",
        show_default=False,
    ),
]


def settings_from(config: Path | None) -> Settings:
    """Load settings from the given path or the default location."""
    return load_settings(config if config is not None else paths.default_config_path())


@app.command()
def version() -> None:
    """Print the installed msr-engage version."""
    from connector import __version__

    out.print(__version__)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning our errors into one-line messages and exit codes."""
    configure_logging()
    try:
        app(args=argv, prog_name="msr-engage")
    except (ConfigError, InputError) as exc:
        kind = "config" if isinstance(exc, ConfigError) else "input"
        for problem in exc.problems:
            err.print(f"[red]{kind} error:[/red] {problem}", highlight=False, markup=True)
        sys.exit(2)
    except MsrEngageError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)
