"""The ledger room: SQLite only (sqlite-utils). Append-only events, contact state, cursors, metadata."""

from connector.ledger.migrations import MIGRATIONS, migrate
from connector.ledger.store import AppendResult, Ledger

__all__ = ["MIGRATIONS", "AppendResult", "Ledger", "migrate"]
