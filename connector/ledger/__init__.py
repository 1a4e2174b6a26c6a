"""The ledger room: SQLite only (sqlite-utils). Append-only events, contact state, cursors, metadata."""

from connector.ledger.migrations import MIGRATIONS, migrate
from connector.ledger.store import AppendResult, Ledger, from_micros, to_micros

__all__ = ["MIGRATIONS", "AppendResult", "Ledger", "from_micros", "migrate", "to_micros"]
