"""discover and check against a state-based fake describe port."""

from __future__ import annotations

from typing import Any

from connector.config.salesforce import ObjectMapping
from connector.errors import AuthError
from connector.sf.mapping import FIELD_RULES, check, discover, proposal_toml, run_check

TYPE_FOR = {
    "score": "double",
    "points": "double",
    "events": "double",
    "pages": "double",
    "view_count": "double",
}


def field(name: str, key: str, label: str | None = None) -> dict[str, Any]:
    """A describe field with the access the connector needs."""
    kind = TYPE_FOR.get(key, "string")
    if key in ("band", "medal"):
        kind = "picklist"
    if key in ("first_qualified_on", "first_placed_on", "last_engaged_on", "last_event_on", "lapses_on"):
        kind = "date"
    if key in ("visited_at", "first_viewed", "last_viewed"):
        kind = "datetime"
    if key in ("contact", "job") or name == "RecordTypeId":
        kind = "reference"
    if key in ("tracking_consent", "heating_up"):
        kind = "boolean"
    if key == "duration_seconds":
        kind = "int"
    values = {"band": ["Hot", "Warm", "Lukewarm", "Cold"], "medal": ["Bronze", "Silver", "Gold"]}.get(key, [])
    return {
        "name": name,
        "label": label or name,
        "type": kind,
        "updateable": True,
        "createable": True,
        "externalId": key == "external_id",
        "unique": key == "external_id",
        "picklistValues": [{"value": v, "active": True} for v in values],
    }


class FakeDescribe:
    """An org whose schema is built from a mapping (optionally renamed), with a daily API budget."""

    def __init__(self, mapping: ObjectMapping, used: int = 100, labels: dict[str, str] | None = None) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.labels = labels or {}
        for group, fields in mapping:
            described = [field(str(getattr(fields, key)), key) for key in FIELD_RULES[group]]
            if group == "contact":
                described.append(field("RecordTypeId", "record_type"))
            self.objects[fields.object] = {
                "name": fields.object,
                "label": self.labels.get(group, group),
                "fields": described,
            }
        self.used = used

    def describe_global(self) -> dict[str, Any]:
        return {"sobjects": [{"name": o["name"], "label": o["label"]} for o in self.objects.values()]}

    def describe(self, object_name: str) -> dict[str, Any]:
        return self.objects[object_name]

    def limits(self) -> dict[str, Any]:
        return {"DailyApiRequests": {"Max": 15000, "Remaining": 15000 - self.used}}


def test_check_passes_on_an_org_built_from_the_defaults() -> None:
    rows = check(FakeDescribe(ObjectMapping()), ObjectMapping())
    assert [r for r in rows if not r.ok] == []
    assert any(r.item == "api budget" for r in rows)


def test_check_names_the_key_and_what_to_do_when_a_field_is_missing() -> None:
    org = FakeDescribe(ObjectMapping())
    org.objects["Contact"]["fields"] = [
        f for f in org.objects["Contact"]["fields"] if f["name"] != "Medal__c"
    ]
    failed = [r for r in check(org, ObjectMapping()) if not r.ok]
    assert [(r.item, r.detail) for r in failed] == [
        ("salesforce.objects.contact.medal", "field Medal__c not found")
    ]
    assert "msr-engage discover" in failed[0].fix


def test_check_verifies_the_vacancy_number_field_the_pixel_looks_numbers_up_by() -> None:
    objects = ObjectMapping.model_validate({"job": {"number": "Job_Number__c"}})
    failed = [r for r in check(FakeDescribe(ObjectMapping()), objects) if not r.ok]
    assert [(r.item, r.detail) for r in failed] == [
        ("salesforce.objects.job.number", "field Job_Number__c not found")
    ]


def test_check_flags_non_unique_external_ids_missing_picklist_values_and_a_spent_budget() -> None:
    org = FakeDescribe(ObjectMapping(), used=13000)
    for f in org.objects["Website_Visit__c"]["fields"]:
        if f["name"] == "External_Id__c":
            f["unique"] = False
    for f in org.objects["Contact"]["fields"]:
        if f["name"] == "Medal__c":
            f["picklistValues"] = [{"value": "Bronze", "active": True}]
    failed = {r.item: r for r in check(org, ObjectMapping()) if not r.ok}
    assert set(failed) == {
        "salesforce.objects.website_visit.external_id",
        "salesforce.objects.contact.medal_values",
        "api budget",
    }
    assert "unique" in failed["salesforce.objects.website_visit.external_id"].detail


def test_a_refused_login_is_one_failed_row() -> None:
    def refuse() -> FakeDescribe:
        raise AuthError("invalid_client")

    rows = run_check(refuse, ObjectMapping(), 0.8)
    assert [(r.item, r.ok) for r in rows] == [("login", False)]


def test_discover_matches_renamed_objects_by_label_and_marks_what_it_cannot_find() -> None:
    renamed = ObjectMapping.model_validate(
        {"website_visit": {"object": "OR__Visit__c"}, "application": {"object": "msf__JobApp__c"}}
    )
    org = FakeDescribe(renamed, labels={"website_visit": "Website Visit", "application": "Job Application"})
    org.objects.pop("Website_Job_View__c")
    proposals = {(p.group, p.key): p for p in discover(org)}
    assert proposals["website_visit", "object"].value == "OR__Visit__c"
    assert proposals["application", "object"].value == "msf__JobApp__c"
    assert proposals["job_view", "object"].label is None
    text = proposal_toml(proposals.values())
    assert '[salesforce.objects.website_visit]\nobject = "OR__Visit__c"' in text
    assert "NOT FOUND" in text
