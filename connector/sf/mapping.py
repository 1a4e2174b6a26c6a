"""`discover` and `check`: compare the object/field mapping with what an org's describe output says.

Both only read (describeGlobal, describes, limits) and return plain rows; the CLI renders them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from connector.config.salesforce import ObjectMapping
from connector.errors import MsrEngageError, OrgUnreachableError

Need = Literal["read", "update", "upsert", "external_id", "reference"]
NUMBER = frozenset({"double", "int", "long", "currency", "percent"})
TEXT = frozenset({"string", "textarea", "url", "picklist", "email", "phone"})
DATES = frozenset({"date", "datetime"})
ID_REF = frozenset({"reference", "id"})

# Per mapping key: accepted describe types, what the connector does with it, extra labels to match on.
FIELD_RULES: dict[str, dict[str, tuple[frozenset[str], tuple[Need, ...], tuple[str, ...]]]] = {
    "contact": {
        "score": (NUMBER, ("read", "update"), ("Leadscore",)),
        "band": (frozenset({"picklist", "string"}), ("read", "update"), ("Lead Score Band", "Band")),
        "medal": (frozenset({"picklist", "string"}), ("read", "update"), ("Medaille",)),
        "first_qualified_on": (
            DATES,
            ("read", "update"),
            ("Date First Qualification", "Datum eerste kwalificatie"),
        ),
        "first_placed_on": (DATES, ("read", "update"), ("Date First Placement", "Datum eerste plaatsing")),
        "heating_up": (frozenset({"boolean"}), ("read", "update"), ("Heating Up", "Opwarmend")),
        "last_engaged_on": (DATES, ("read", "update"), ("Date Last Engagement", "Datum laatste interactie")),
        "last_engaged_by": (TEXT, ("read", "update"), ("Last Engagement", "Laatste interactie")),
        "explanation": (TEXT, ("read", "update"), ("Lead Score Explanation", "Toelichting leadscore")),
        "tracking_consent": (frozenset({"boolean", "picklist"}), ("read",), ("Tracking Consent",)),
    },
    "job": {
        "name": (TEXT, ("read",), ("Name",)),
        # The number vacancy URLs carry (`job_number` vacancy patterns of the pixel).
        "number": (TEXT | NUMBER, ("read",), ("Job Number", "Vacancy Number", "Vacaturenummer")),
    },
    "application": {
        "contact": (ID_REF, ("read",), ("Candidate", "Kandidaat")),
        "job": (ID_REF, ("read",), ("Job", "Vacancy", "Vacature")),
        "step": (TEXT, ("read",), ("Step", "Stap", "Status")),
    },
    "score_line": {
        "contact": (ID_REF, ("upsert",), ("Contact",)),
        "rule": (TEXT, ("upsert",), ("Rule", "Lead Score Rule")),
        "points": (NUMBER, ("upsert",), ("Points", "Punten")),
        "events": (NUMBER, ("upsert",), ("Events Counted", "Event Count")),
        "last_event_on": (DATES, ("upsert",), ("Last Event", "Date Last Event")),
        "lapses_on": (DATES, ("upsert",), ("Next Lapse", "Date Next Lapse")),
        "external_id": (frozenset({"string"}), ("external_id",), ("External Id",)),
    },
    "website_visit": {
        "contact": (ID_REF, ("upsert",), ("Contact",)),
        "visited_at": (DATES, ("upsert",), ("Visited At", "Visit Date")),
        "pages": (NUMBER, ("upsert",), ("Pages",)),
        "landing_url": (TEXT, ("upsert",), ("Landing Url", "Landing Page")),
        "duration_seconds": (NUMBER, ("upsert",), ("Duration Seconds", "Duration")),
        "external_id": (frozenset({"string"}), ("external_id",), ("External Id",)),
    },
    "job_view": {
        "contact": (ID_REF, ("upsert",), ("Contact",)),
        "job": (ID_REF, ("upsert",), ("Job", "Vacancy")),
        "first_viewed": (DATES, ("upsert",), ("First Viewed",)),
        "last_viewed": (DATES, ("upsert",), ("Last Viewed",)),
        "view_count": (NUMBER, ("upsert",), ("View Count", "Views")),
        "external_id": (frozenset({"string"}), ("external_id",), ("External Id",)),
    },
}
OBJECT_LABELS: dict[str, tuple[str, ...]] = {
    "contact": ("Contact",),
    "job": ("Job", "Vacancy", "Vacature"),
    "application": ("Job Application", "Application", "Sollicitatie"),
    "score_line": ("Lead Score Line", "Person Lead Score Line", "Lead Score"),
    "website_visit": ("Website Visit", "Websitebezoek"),
    "job_view": ("Website Job View", "Job View", "Vacaturebezoek"),
}


class DescribePort(Protocol):
    """What discover/check need from the client."""

    def describe_global(self) -> dict[str, Any]:
        """describeGlobal."""
        ...

    def describe(self, object_name: str) -> dict[str, Any]:
        """One object's describe."""
        ...

    def limits(self) -> dict[str, Any]:
        """The org's limits."""
        ...


@dataclass(frozen=True)
class CheckRow:
    """One verified item: what, whether it passed, what was found, and what to do if it did not.

    A warning (`warn`) passes (`check` still exits 0) but says what can go wrong quietly."""

    item: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False  # passed, but not as it should be (untracked step history, a profile not API-only)
    topic: str = ""  # "access": the field exists, the integration user lacks access to it


@dataclass(frozen=True)
class Proposal:
    """A proposed value for one mapping key, the label it matched, or None when nothing matched."""

    group: str
    key: str
    value: str
    label: str | None


def _norm(text: str) -> str:
    text = re.sub(r"^[a-z0-9]+__(?=.+__c$)", "", text, flags=re.IGNORECASE)  # namespace prefix
    text = re.sub(r"__c$", "", text, flags=re.IGNORECASE)
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _match(
    candidates: Iterable[Mapping[str, Any]], default: str, labels: Iterable[str]
) -> Mapping[str, Any] | None:
    """The describe entry for `default` if it exists, else the first whose name or label fits a label."""
    items = list(candidates)
    for item in items:
        if item.get("name") == default:
            return item
    wanted = [_norm(label) for label in (default, *labels)]
    for target in wanted:
        for item in items:
            if target in (_norm(str(item.get("label", ""))), _norm(str(item.get("name", "")))):
                return item
    return None


def discover(client: DescribePort, defaults: ObjectMapping | None = None) -> list[Proposal]:
    """Propose a mapping for this org by matching API names and labels in its describe output."""
    defaults = defaults or ObjectMapping()
    sobjects = client.describe_global().get("sobjects", [])
    proposals: list[Proposal] = []
    for group, fields in defaults:
        found = _match(sobjects, fields.object, OBJECT_LABELS[group])
        proposals.append(
            Proposal(
                group,
                "object",
                str(found["name"]) if found else fields.object,
                str(found["label"]) if found else None,
            )
        )
        described = client.describe(str(found["name"])).get("fields", []) if found else []
        for key, (_types, _needs, labels) in FIELD_RULES[group].items():
            default = str(getattr(fields, key))
            hit = _match(described, default, (key.replace("_", " "), *labels)) if found else None
            proposals.append(
                Proposal(group, key, str(hit["name"]) if hit else default, str(hit["label"]) if hit else None)
            )
    return proposals


def proposal_toml(proposals: Iterable[Proposal]) -> str:
    """The `[salesforce.objects.*]` tables to paste into config.toml, unmatched keys marked."""
    lines: list[str] = []
    group = ""
    for p in proposals:
        if p.group != group:
            group = p.group
            lines += ["" if lines else "# proposed by `msr-engage discover`", f"[salesforce.objects.{group}]"]
        note = (
            f"  # label {p.label!r}" if p.label else "  # NOT FOUND in this org: create it or map it by hand"
        )
        lines.append(f'{p.key} = "{p.value}"{note}')
    return "\n".join(lines) + "\n"


def check(client: DescribePort, objects: ObjectMapping, max_org_share: float = 0.8) -> list[CheckRow]:
    """Verify every mapped object and field, their types, access, external ids, picklists and budget."""
    rows: list[CheckRow] = []
    try:
        names = {str(o.get("name")) for o in client.describe_global().get("sobjects", [])}
    except MsrEngageError as exc:
        return [CheckRow("login", False, str(exc), _login_hint(exc))]
    rows.append(CheckRow("login", True, "authenticated; describeGlobal readable"))
    for group, fields in objects:
        key = f"salesforce.objects.{group}.object"
        if fields.object not in names:
            rows.append(CheckRow(key, False, f"{fields.object} not found", _fix_object(fields.object, key)))
            continue
        describe = client.describe(fields.object)
        rows.append(CheckRow(key, True, fields.object))
        by_name = {str(f.get("name")): f for f in describe.get("fields", [])}
        for fkey, (types, needs, _labels) in FIELD_RULES[group].items():
            rows.append(
                _check_field(
                    f"salesforce.objects.{group}.{fkey}", by_name, getattr(fields, fkey), types, needs
                )
            )
        if group == "contact":
            rows += _check_picklist(by_name, fields.band, "band", fields.band_values)
            rows += _check_picklist(by_name, fields.medal, "medal", fields.medal_values)
            rows.append(
                _check_field(
                    "salesforce.objects.contact.record_type", by_name, "RecordTypeId", ID_REF, ("read",)
                )
            )
    rows.append(_check_budget(client.limits(), max_org_share))
    return rows


def _fix_object(name: str, key: str) -> str:
    return f"set {key} to this org's API name (run `msr-engage discover`) or deploy {name}"


def _check_field(
    key: str,
    by_name: Mapping[str, Mapping[str, Any]],
    name: str,
    types: frozenset[str],
    needs: tuple[Need, ...],
) -> CheckRow:
    field = by_name.get(name)
    if field is None:
        return CheckRow(
            key, False, f"field {name} not found", f"set {key} (see `msr-engage discover`) or create {name}"
        )
    kind = str(field.get("type"))
    if kind not in types:
        return CheckRow(
            key,
            False,
            f"{name} is {kind}, expected {'/'.join(sorted(types))}",
            f"map {key} to a field of that type",
        )
    missing = [flag for need in needs for flag in _FLAGS[need] if not field.get(flag)]
    if missing:
        return CheckRow(
            key,
            False,
            f"{name} is not {', '.join(missing)}",
            topic="access" if set(missing) <= {"createable", "updateable"} else "",
            fix="assign the permission set MSR_Engage_Integration (org/) to the integration user, or "
            "grant it field-level access (an external id must be a unique external id)",
        )
    return CheckRow(key, True, f"{name} ({kind})")


_FLAGS: dict[str, tuple[str, ...]] = {
    "read": (),  # present in describe means readable for this user
    "reference": (),
    "update": ("updateable",),
    "upsert": ("createable", "updateable"),
    "external_id": ("externalId", "unique", "createable"),
}


def _check_picklist(
    by_name: Mapping[str, Mapping[str, Any]], name: str, what: str, values: Mapping[str, str]
) -> list[CheckRow]:
    field = by_name.get(name)
    if field is None or field.get("type") != "picklist":
        return []
    active = {str(v.get("value")) for v in field.get("picklistValues", []) if v.get("active", True)}
    key = f"salesforce.objects.contact.{what}_values"
    missing = [v for v in values.values() if v not in active]
    if missing:
        return [
            CheckRow(
                key,
                False,
                f"{name} lacks picklist values {', '.join(missing)}",
                f"add them to {name} or change {key}",
            )
        ]
    return [CheckRow(key, True, ", ".join(values.values()))]


def _check_budget(limits: Mapping[str, Any], max_org_share: float) -> CheckRow:
    daily = limits.get("DailyApiRequests") or {}
    total, left = int(daily.get("Max", 0)), int(daily.get("Remaining", 0))
    if not total:
        return CheckRow(
            "api budget", False, "DailyApiRequests not reported", "check the user's API Enabled permission"
        )
    used = total - left
    detail = f"{used}/{total} daily API calls used ({used / total:.0%})"
    if used >= max_org_share * total:
        return CheckRow(
            "api budget", False, detail, f"cycles stop at {max_org_share:.0%}: wait, or raise the org's limit"
        )
    return CheckRow("api budget", True, detail)


Client = TypeVar("Client", bound=DescribePort)


def run_check(
    connect: Callable[[], Client],
    objects: ObjectMapping,
    max_org_share: float,
    more: Callable[[Client], list[CheckRow]] | None = None,
) -> list[CheckRow]:
    """Log in with `connect`, then `check` (and `more`); a refused login is one failed row, not a crash."""
    try:
        client = connect()
    except MsrEngageError as exc:
        return [CheckRow("login", False, str(exc), _login_hint(exc))]
    rows = check(client, objects, max_org_share)
    if more is not None and all(row.ok for row in rows if row.item.startswith("salesforce.objects.")):
        rows += more(client)
    return rows


def _login_hint(exc: MsrEngageError) -> str:
    if isinstance(exc, OrgUnreachableError):
        return "the org cannot be reached: check [salesforce] login_url, the network and ca_bundle"
    return "fix the [salesforce] auth settings or secrets"
