"""What every command shares: the output consoles and the common options."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

# Off a terminal rich would assume 80 columns and cut ids and dates; results must stay readable in files.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)  # one problem, one line: never wrapped mid-sentence

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="config.toml to use (default: $MSR_ENGAGE_CONFIG, else ./config.toml; without one it stops).",
        show_default=False,
    ),
]

PixelConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="config.toml to use (default: $MSR_ENGAGE_CONFIG, else ./config.toml, else pixel defaults).",
        show_default=False,
    ),
]
KindsConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help=(
            "config.toml whose sources add event kinds (default: $MSR_ENGAGE_CONFIG, else ./config.toml,"
            " else the built-in kinds only)."
        ),
        show_default=False,
    ),
]

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now", help="Score as of this ISO time with zone (default: the current time).", show_default=False
    ),
]


def command_name() -> str:
    """How to call msr-engage again from the user's shell: the bare name when on PATH, else its script."""
    beside = Path(sys.executable).parent / "msr-engage"
    found = shutil.which("msr-engage")
    if not beside.exists() or (found is not None and Path(found).resolve() == beside.resolve()):
        return "msr-engage"
    # `make demo` runs .venv/bin/msr-engage without activating: a bare name would be "command not found".
    relative = os.path.relpath(beside)
    return relative if not relative.startswith("..") else str(beside)
