"""Shared fixtures: every test gets its own state folder and no stray config from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import structlog

if TYPE_CHECKING:
    from connector.emulator.testing import RunningEmulator


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MSR_ENGAGE_HOME at a fresh folder and run from it, so no test touches ./state."""
    home = tmp_path / "state"
    home.mkdir()  # read-only commands refuse a state folder that does not exist
    monkeypatch.setenv("MSR_ENGAGE_HOME", str(home))
    monkeypatch.delenv("MSR_ENGAGE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Commands configure structlog for the process; undo it so no test inherits another's level."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    """A running local Salesforce org (empty; HTTPS on 127.0.0.1, free port), stopped after the test.

    Use `emulator.login_url`, `.instance_url`, `.ca_bundle`, `.client_id`, `.client_secret`,
    `.username` + `.jwt_private_key` (JWT bearer), `.session()` (trusts the CA, `trust_env=False`),
    `.salesforce()` (simple-salesforce client), and `emulator.org` to seed, read records, move the
    clock, script faults and count calls (see connector/emulator/org.py).
    """
    from connector.emulator.testing import running_emulator

    with running_emulator(state_dir=tmp_path / "emulator") as running:
        yield running
