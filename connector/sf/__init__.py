"""The sf room (see docs/architecture.md)."""
