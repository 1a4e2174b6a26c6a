"""Shared fixtures: every test gets its own state folder and no stray config from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MSR_ENGAGE_HOME at a fresh folder and run from it, so no test touches ./state."""
    home = tmp_path / "state"
    monkeypatch.setenv("MSR_ENGAGE_HOME", str(home))
    monkeypatch.delenv("MSR_ENGAGE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return home
