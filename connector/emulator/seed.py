"""The `demo` seed (placeholder until the seed lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connector.emulator.org import Emulator


def seed_demo(emu: Emulator, *, seed: int = 20261126) -> None:
    """Fill the org like a real agency's."""
    raise NotImplementedError
