"""What `check` adds to the mapping check: the integration user's profile and the guide's checklist.

docs/implementing.md ends with a checklist; `check` prints it with each line passed or not, derived
from its rows, so what the implementer reads and what the connector verifies are the same list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from connector.config.salesforce import ObjectMapping
from connector.errors import MsrEngageError
from connector.sf.client import SalesforceClient
from connector.sf.mapping import CheckRow, run_check

API_ONLY_PROFILE = "Minimum Access - API Only Integrations"
INTEGRATION_LICENCE = "Salesforce Integration"

# The checklist of docs/implementing.md, in its order: (line, which check rows decide it).
CHECKLIST: tuple[tuple[str, Callable[[CheckRow], bool]], ...] = (
    ("the integration user logs in", lambda r: r.item == "login"),
    (
        f"the integration user has the licence {INTEGRATION_LICENCE} and the profile {API_ONLY_PROFILE}",
        lambda r: r.item == "integration user",
    ),
    (
        "org/ is deployed: every mapped object and field exists with its type",
        lambda r: (
            r.item.startswith("salesforce.objects.") and r.topic != "access" and "_values" not in r.item
        ),
    ),
    (
        "the permission set MSR_Engage_Integration is assigned: field access on every field read and written",
        lambda r: r.item.startswith("salesforce.objects.") and "_values" not in r.item,
    ),
    (
        "the integration user can read every object and field the sources poll",
        lambda r: r.item.startswith("sources"),
    ),
    (
        "history is tracked on the application step: steps between two polls are read",
        lambda r: r.item == "sync.step_history",
    ),
    ("the band and medal picklists hold msr-engage's values", lambda r: r.item.endswith("_values")),
    ("the scoring rules fit the org", lambda r: r.item.startswith(("scoring", "medals"))),
    ("the org's API budget leaves room", lambda r: r.item == "api budget"),
)


def _norm(name: str) -> str:
    return " ".join(name.replace("\u2013", "-").replace("\u2014", "-").split()).casefold()


def check_user(query: Callable[[str], Any], user_id: str) -> CheckRow:
    """The logged-in user's profile and licence: a warning unless it is the API-only integration profile."""
    item = "integration user"
    if not user_id:
        return CheckRow(item, True, "the login named no user", "check the user's profile by hand", warn=True)
    soql = f"SELECT Username, Profile.Name, Profile.UserLicense.Name FROM User WHERE Id = '{user_id}'"  # noqa: S608 - an id from the login
    try:
        records = query(soql).get("records", [])
    except MsrEngageError as exc:
        return CheckRow(item, True, f"cannot read the user's profile: {exc}", "check it by hand", warn=True)
    if not records:
        return CheckRow(
            item, True, f"user {user_id} not readable", "check the user's profile by hand", warn=True
        )
    profile = records[0].get("Profile") or {}
    name = str(profile.get("Name") or "")
    licence = str((profile.get("UserLicense") or {}).get("Name") or "")
    detail = f"{records[0].get('Username')}: profile {name!r}, licence {licence!r}"
    if _norm(name) != _norm(API_ONLY_PROFILE):
        fix = (
            f"give the integration user the licence {INTEGRATION_LICENCE} and the profile {API_ONLY_PROFILE}"
            " (docs/implementing.md, step 1): then it uses only the API, with what the permission set grants"
        )
        return CheckRow(item, True, detail, fix, warn=True)
    return CheckRow(item, True, detail)


def checklist(rows: Iterable[CheckRow]) -> list[tuple[str, bool | None]]:
    """Each line of the guide's checklist: passed (True), not (False), or not checked (None)."""
    rows = list(rows)
    lines: list[tuple[str, bool | None]] = []
    for line, decides in CHECKLIST:
        mine = [r for r in rows if decides(r)]
        lines.append((line, all(r.ok and not r.warn for r in mine) if mine else None))
    return lines


def run_org_check(
    connect: Callable[[], SalesforceClient],
    objects: ObjectMapping,
    max_org_share: float,
    more: Callable[[SalesforceClient], list[CheckRow]] | None = None,
) -> list[CheckRow]:
    """`mapping.run_check`, with the integration user's row after the login's."""
    clients: list[SalesforceClient] = []

    def keep() -> SalesforceClient:
        clients.append(connect())
        return clients[-1]

    rows = run_check(keep, objects, max_org_share, more)
    if clients:
        rows.insert(1, check_user(clients[0].query_page, clients[0].user_id))
    return rows
