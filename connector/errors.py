"""One error tree for the whole connector (style.md). The CLI maps classes to exit codes."""

from __future__ import annotations


class MsrEngageError(Exception):
    """Base of every error the connector raises on purpose."""


class ConfigError(MsrEngageError):
    """The configuration is wrong: exit code 2. `problems` holds one line per problem."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class InputError(MsrEngageError):
    """An input file or argument is wrong: exit code 2. `problems` holds one line per problem."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class RetriableError(MsrEngageError):
    """A transient failure (network, 5xx, lock): the same call may succeed later."""


class FatalError(MsrEngageError):
    """A runtime failure that retrying will not fix: exit code 1."""
