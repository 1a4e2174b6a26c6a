"""The scoring room (see docs/architecture.md)."""
