"""The sf room: everything the connector says to a Salesforce org (see docs/architecture.md).

Build a client with `connect(settings.salesforce)`; read with `readers.plan_window` + `read_window`;
write with `writer.apply_plan`; verify a mapping with `mapping.check` / `mapping.discover`.
"""

from __future__ import annotations

from connector.config import Settings
from connector.config.salesforce import SalesforceSettings
from connector.errors import ConfigError
from connector.sf.client import SalesforceClient, connect
from connector.sf.mapping import CheckRow, Proposal, check, discover, proposal_toml, run_check
from connector.sf.policy import ApiUsage, Breaker, RetryPolicy
from connector.sf.readers import Source, Window, plan_window, read_window
from connector.sf.writer import Outcome, WriteOutcome, WriteResult, apply_plan

__all__ = [
    "ApiUsage",
    "Breaker",
    "CheckRow",
    "Outcome",
    "Proposal",
    "RetryPolicy",
    "SalesforceClient",
    "Source",
    "Window",
    "WriteOutcome",
    "WriteResult",
    "apply_plan",
    "check",
    "connect",
    "discover",
    "plan_window",
    "proposal_toml",
    "read_window",
    "require",
    "run_check",
]


def require(settings: Settings) -> SalesforceSettings:
    """The `[salesforce]` table, or a ConfigError saying how to add it."""
    if settings.salesforce is None:
        raise ConfigError(
            "salesforce: config.toml has no salesforce table: add one with login_url, auth and client_id "
            "(see config.example.toml)"
        )
    return settings.salesforce
