"""Where runtime state lives: one resolver, moved as a whole by `MSR_ENGAGE_HOME` (default ./state)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "MSR_ENGAGE_HOME"
CONFIG_ENV = "MSR_ENGAGE_CONFIG"


def state_home() -> Path:
    """The state folder (created on first use)."""
    home = Path(os.environ.get(HOME_ENV) or "state")
    home.mkdir(parents=True, exist_ok=True)
    return home


def ledger_path() -> Path:
    """The SQLite ledger file inside the state folder."""
    return state_home() / "ledger.db"


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
