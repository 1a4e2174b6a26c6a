"""The pixel room (see docs/architecture.md)."""
