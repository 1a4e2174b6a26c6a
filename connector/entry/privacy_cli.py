"""The data subject's commands: lifting a tombstone so an undeleted contact starts over."""

from __future__ import annotations

import typer
from rich.markup import escape

from connector.entry import bootstrap
from connector.entry.options import out
from connector.errors import InputError
from connector.ledger.erasure import lift_tombstone


def unerase(contact_id: str) -> None:
    """Let a contact undeleted in the org start over: its next change is read as a new contact's."""
    with bootstrap.open_ledger() as ledger:
        if not lift_tombstone(ledger, contact_id):
            raise InputError(f"{contact_id} was never erased: nothing to lift")
    out.print(f"{escape(contact_id)} may be read again; nothing from before its erasure comes back")


def register(app: typer.Typer) -> None:
    """Add the privacy commands to the main command line."""
    app.command()(unerase)
