"""One error tree for the whole connector (style.md). The CLI maps classes to exit codes."""

from __future__ import annotations

from datetime import datetime


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


class StateFolderError(FatalError):
    """The state folder (ledger, lock) cannot be used: read-only, full, missing rights. Exit code 1."""


# --- Salesforce (connector/sf): classified in exactly one function, `connector.sf.client.classify`. ---


class TransientError(RetriableError):
    """Network trouble, 5xx, 429/420/406 or a row lock: the one retry policy retries it."""


class OrgUnreachableError(RetriableError):
    """The org's host cannot be reached at all (DNS, connection refused, TLS): not retried within a command
    (the next cycle tries again), and no credentials are to blame."""


class SessionExpiredError(RetriableError):
    """401 INVALID_SESSION_ID: re-authenticate once and retry the call."""


class QueryTimeoutError(RetriableError):
    """400 QUERY_TIMEOUT: the reader halves its window and tries again."""


class QueryLocatorError(RetriableError):
    """400 INVALID_QUERY_LOCATOR: the reader restarts the query from the window's start."""


class AuthError(FatalError):
    """The org refused our credentials (or a fresh session at once): fix the connected app or secrets."""


class ApiLimitError(MsrEngageError):
    """403 REQUEST_LIMIT_EXCEEDED or an open breaker: pause cycles until `open_until` (aware UTC)."""

    def __init__(self, message: str, open_until: datetime | None = None) -> None:
        self.open_until = open_until
        super().__init__(message)


class ClockWentBackError(MsrEngageError):
    """This job's time is clearly before the last cycle that scored: the cycle stops until it is past."""


class BudgetExceededError(MsrEngageError):
    """A budget guard stopped the cycle early: this run used too large a share of the daily API calls."""


class SalesforceRequestError(FatalError):
    """The org rejected a request for a reason retrying cannot fix. `error_code` is Salesforce's code."""

    def __init__(self, message: str, error_code: str = "", status: int = 0) -> None:
        self.error_code = error_code
        self.status = status
        super().__init__(message)


class MappingError(ConfigError):
    """A mapped object or field is missing, mistyped or not accessible: fix `[salesforce.objects]`."""


# --- Other sources: the pixel provider's API, classified in `connector.pixel.sources.fetch_pages`. ---


class ProviderUnavailableError(RetriableError):
    """The pixel provider's API did not answer (network, timeout, 429, 5xx): ask again next cycle."""


class ProviderRefusedError(FatalError):
    """The pixel provider refused us (401, 403 or another 4xx): fix `[pixel.api]` url or the auth secret."""


class ProviderGarbageError(FatalError):
    """The pixel provider answered with something other than the JSON `[pixel.api]` describes."""
