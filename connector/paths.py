"""Where runtime state lives: one resolver, moved as a whole by `MSR_ENGAGE_HOME` (default ./state)."""

from __future__ import annotations

import os
from pathlib import Path

from connector.errors import ConfigError

HOME_ENV = "MSR_ENGAGE_HOME"
CONFIG_ENV = "MSR_ENGAGE_CONFIG"


def state_home(*, create: bool = True) -> Path:
    """The state folder: created on first use by commands that write; read-only ones need it to exist."""
    home = Path(os.environ.get(HOME_ENV) or "state")
    if not create and not home.is_dir():
        # A typo in MSR_ENGAGE_HOME would otherwise open a fresh, empty ledger and report zeros.
        raise ConfigError(
            f"state folder {home} does not exist: check {HOME_ENV}, or run a command that writes"
            " (ingest, sync --once) to start a ledger there"
        )
    home.mkdir(parents=True, exist_ok=True)
    return home


def ledger_path(*, create: bool = True) -> Path:
    """The SQLite ledger file inside the state folder."""
    return state_home(create=create) / "ledger.db"


def default_config_path() -> Path | None:
    """`MSR_ENGAGE_CONFIG` if set, else ./config.toml if it exists, else None (built-in defaults)."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named)
    local = Path("config.toml")
    return local if local.exists() else None


def example_config() -> Path:
    """The bundled config.example.toml (the admin's starting point, also used by the demo)."""
    return Path(__file__).parent / "config.example.toml"
