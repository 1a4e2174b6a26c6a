"""The org port: everything the shell uses of the Salesforce client, declared so fakes are type-checked."""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from connector.config.salesforce import SalesforceSettings
from connector.sf.policy import ApiUsage, Breaker
from connector.sf.readers import QueryPort
from connector.sf.writer import WritePort


class OrgPort(QueryPort, WritePort, Protocol):
    """A logged-in org: queries, writes, the cycle's budget guard, and what `status` keeps of it.

    `SalesforceClient` implements it; `org_id` comes from the login's identity URL ('' until a login
    named it), `usage` from the last `Sforce-Limit-Info`, `breaker` opens on REQUEST_LIMIT_EXCEEDED.
    """

    # Read-only for the shell (a wrapper such as the entry point's progress watcher passes them on).
    @property
    def settings(self) -> SalesforceSettings: ...

    @property
    def org_id(self) -> str: ...

    @property
    def usage(self) -> ApiUsage | None: ...

    @property
    def breaker(self) -> Breaker: ...

    @property
    def calls_by_kind(self) -> Counter[str]:
        """Requests sent, by kind: rest_query, rest_write, bulk."""
        ...

    def start_cycle(self) -> None:
        """Begin the cycle's budget guard (refused while the breaker is open)."""
        ...

    def end_cycle(self) -> None:
        """End the cycle's budget guard."""
        ...

    def pause(self, seconds: float) -> None:
        """Wait between polls of a Bulk 2.0 job."""
        ...
