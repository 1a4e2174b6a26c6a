"""`msr-engage emulator serve`: the local Salesforce org emulator, standalone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from connector import paths
from connector.errors import InputError

emulator_app = typer.Typer(
    pretty_exceptions_enable=False,  # its tracebacks show locals: a private key, a secret
    help="The local Salesforce org emulator (HTTPS on 127.0.0.1).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
PortOption = Annotated[int | None, typer.Option(help="Port (default: the saved one, else any free port).")]
StateOption = Annotated[
    Path | None, typer.Option("--state", help="JSON file keeping the org across restarts.")
]
JsonOption = Annotated[bool, typer.Option("--print-json", help="First stdout line: one JSON object.")]
WriteOption = Annotated[Path | None, typer.Option("--write-config", help="Write a config.toml for it.")]
OrgIdOption = Annotated[
    str | None,
    typer.Option(
        "--org-id",
        help="The new org's 18-character id, like 00DKb0000000001MAA (default: a random one per new org).",
        show_default=False,
    ),
]


@emulator_app.command("serve")
def emulator_serve(
    port: PortOption = None,
    seed: Annotated[str, typer.Option(help="Data for a new org: demo or empty.")] = "demo",
    state: StateOption = None,
    print_json: JsonOption = False,
    write_config: WriteOption = None,
    org_id: OrgIdOption = None,
) -> None:
    """Run the local Salesforce org emulator until Ctrl-C / SIGTERM, printing how to log in to it.

    Needs no config: it is an org, not the connector; --write-config writes one that points at it.
    """
    from connector.emulator.standalone import org_settings, serve

    if seed not in ("demo", "empty"):
        raise InputError(f"--seed: {seed!r} is not one of demo, empty")
    if org_id is not None:
        org_settings(org_id)  # a bad id stops here, before a state folder is made for it
    folder = paths.state_home() / "emulator"
    serve(port=port, seed=seed, state_file=state, state_dir=folder, print_json=print_json,
          config_path=write_config, emit=lambda line: print(line, flush=True), org_id=org_id)  # fmt: skip
