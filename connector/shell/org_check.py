"""`check` and `discover` against one org: the mapping, the rules, what the sources read, step history.

Every row says what was found and what to do; `check` exits 1 when a row failed (a warning passes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from connector.config import Settings
from connector.config.salesforce import SalesforceSettings
from connector.sf.client import SalesforceClient
from connector.sf.mapping import CheckRow, DescribePort, Proposal
from connector.sf.org_check import run_org_check
from connector.sf.readers import QueryPort
from connector.sf.rules_check import check_rules
from connector.sf.sources_check import check_reads
from connector.sf.tracking import history_note, history_tracked
from connector.shell.sources import mapping_of, org_sources, source_reads, step_tracked


class CheckPort(DescribePort, QueryPort, Protocol):
    """What `check` uses of a logged-in client: describes, limits and queries."""


def org_check(
    settings: Settings, sf: SalesforceSettings, connect: Callable[[], SalesforceClient]
) -> list[CheckRow]:
    """Every row of `check`: login, the integration user, mapping, budget; then (when the mapping holds)
    the rules, what the sources read, and whether steps between polls are read."""

    def more(client: CheckPort) -> list[CheckRow]:
        sources = org_sources(client, settings)
        kinds = {spec.kind for source in sources for spec in source.events}
        kinds |= {source.history.kind for source in sources if source.history is not None}
        rows = check_rules(client.describe, settings.scoring, settings.medals, sf.objects, kinds)
        rows += check_reads(client.describe_global, client.describe, source_reads(sources, settings))
        if settings.sources.salesforce is None:  # the default sources: the application step
            rows.append(history_row(client, settings))
        return rows

    return run_org_check(connect, sf.objects, sf.max_org_share, more)


def history_row(client: QueryPort, settings: Settings) -> CheckRow:
    """Whether steps between two polls are read (history tracked and used), a warning when not."""
    app = mapping_of(settings).application
    ok, warn, detail = history_note(step_tracked(client, settings), settings.sync.step_history, app.object,
                                    app.step)  # fmt: skip
    return CheckRow("sync.step_history", ok, detail, warn=warn)


def discover_note(client: QueryPort, proposals: Sequence[Proposal]) -> str:
    """The `[sync] step_history` line `discover` proposes for the mapping it found, as TOML comments."""
    found = {(p.group, p.key): p.value for p in proposals}
    obj, step = found.get(("application", "object")), found.get(("application", "step"))
    if not obj or not step:
        return ""
    _ok, _warn, detail = history_note(history_tracked(client, obj, step), "auto", obj, step)
    return f'# [sync] step_history = "auto" (the default): {detail}\n'
