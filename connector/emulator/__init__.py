"""The emulator room (see docs/architecture.md)."""
