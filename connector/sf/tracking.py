"""Whether the org keeps field history for a field, asked the way Salesforce answers it.

`FieldDefinition.IsFieldHistoryTracked` (setup metadata, queryable with SOQL since API 45.0) filtered
by `EntityDefinition.QualifiedApiName` and the field's `QualifiedApiName`: one query, one row.
"""

from __future__ import annotations

import structlog
from simple_salesforce.format import format_soql

from connector.errors import MappingError, SalesforceRequestError
from connector.sf.readers import QueryPort

log = structlog.get_logger(__name__)


def history_tracked(client: QueryPort, obj: str, field: str) -> bool | None:
    """True / False as the org says; None when it does not say (the field is unknown to the query, or
    the user may not read setup metadata): the caller decides what that means, and says so."""
    soql = format_soql(
        "SELECT QualifiedApiName, IsFieldHistoryTracked FROM FieldDefinition"
        " WHERE EntityDefinition.QualifiedApiName = {} AND QualifiedApiName = {}",
        obj, field,
    )  # fmt: skip
    try:
        rows = [row for page in client.query_pages(soql, include_deleted=False) for row in page]
    except (MappingError, SalesforceRequestError) as exc:  # refused, not transient: the org does not say
        log.warning("history_tracking_unknown", object=obj, field=field, error=str(exc)[:200])
        return None
    return bool(rows[0].get("IsFieldHistoryTracked")) if rows else None


def history_note(tracked: bool | None, setting: bool | str, obj: str, field: str) -> tuple[bool, bool, str]:
    """What `check` and `discover` say about reading `obj.field`'s history: (ok, warn, sentence).

    `setting` is `[sync] step_history` ("auto", true or false)."""
    where = f"{obj}.{field}"
    if tracked is None:
        return True, True, (f"cannot tell whether the org tracks history on {where}; set [sync]"
                            " step_history = true or false")  # fmt: skip
    if tracked and setting is False:
        return True, True, (f"history tracked on {where} but step_history = false: steps between polls"
                            ' can be missed (use "auto" to read them)')  # fmt: skip
    if tracked:
        return True, False, f"history tracked on {where}: steps between polls are read"
    if setting is True:
        return False, False, (f"step_history = true but the org does not track history on {where}:"
                              " turn on field history tracking for it, or use \"auto\"")  # fmt: skip
    return True, True, (f"history not tracked on {where}: steps between polls can be missed (turn on"
                        " field history tracking for it)")  # fmt: skip
