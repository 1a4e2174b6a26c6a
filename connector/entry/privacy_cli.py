"""The data subject's commands: erasure on request, and lifting a tombstone so a contact starts over."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.markup import escape

from connector import paths
from connector.config import load_settings
from connector.entry import bootstrap
from connector.entry.options import ConfigOption, out
from connector.errors import InputError
from connector.ledger.erasure import lift_tombstone
from connector.shell.erasure import erase_on_request
from connector.shell.sources import mapping_of


def unerase(contact_id: str) -> None:
    """Let a contact undeleted in the org start over: its next change is read as a new contact's.

    Needs no config: the tombstone is in the ledger; the next cycle reads the contact again.
    """
    with bootstrap.open_ledger() as ledger:
        if not lift_tombstone(ledger, contact_id):
            raise InputError(f"{contact_id} was never erased: nothing to lift")
    out.print(f"{escape(contact_id)} may be read again; nothing from before its erasure comes back")


def erase(
    contact_id: str,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; change nothing.")] = False,
    by: Annotated[str, typer.Option("--by", help="Who asks (default: the logged-in user).")] = "",
    config: ConfigOption = None,
) -> None:
    """Erase a contact on a data subject's request: ledger, child records in the org, detail fields."""
    settings = load_settings(config or paths.default_config_path())
    who = by or getpass.getuser()
    with bootstrap.org_connection(settings) as (client, ledger):
        done = erase_on_request(
            client, ledger, mapping_of(settings), contact_id, who, bootstrap.clock(), dry_run=dry_run
        )
    if dry_run:
        out.print(f"would erase {escape(contact_id)}: {done.found} records in the org; nothing changed")
        return
    out.print(
        f"erased {escape(contact_id)}: {done.deleted} records deleted in the org, audited as {escape(who)}"
    )
    if done.refused or done.stopped:
        out.print("the org did not take all of it: the next cycle tries again (see status)")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the privacy commands to the main command line."""
    app.command()(erase)
    app.command()(unerase)
