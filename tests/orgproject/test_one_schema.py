"""The connector's default mapping, the emulator and org/ are one schema: drift in any one fails here."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from connector.config.salesforce import ObjectMapping
from connector.config.sync import default_sources
from connector.emulator.describe import describe, describe_global, limits
from connector.emulator.schema import ObjectDef, build_schema
from connector.sf.mapping import FIELD_RULES, check
from tests.orgproject.test_org_project import ORG, SOURCE

NS = "{http://soap.sforce.com/2006/04/metadata}"


class SchemaDescribe:
    """The describe port of `connector.sf.mapping`, answered from a schema built from org files."""

    def __init__(self, schema: dict[str, ObjectDef]) -> None:
        self.schema = schema

    def describe_global(self) -> dict[str, Any]:
        return describe_global(self.schema, "62.0")

    def describe(self, object_name: str) -> dict[str, Any]:
        return describe(self.schema, self.schema[object_name], {}, "62.0")

    def limits(self) -> dict[str, Any]:
        return limits(0, 100_000)


def _failed(org_dir: Path) -> dict[str, str]:
    rows = check(SchemaDescribe(build_schema(org_dir)), ObjectMapping())
    return {row.item: row.detail for row in rows if not row.ok}


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "org"
    shutil.copytree(ORG, target)
    return target


def test_every_mapped_object_and_field_is_in_org_or_the_msr_schema_with_a_fitting_type() -> None:
    rows = check(SchemaDescribe(build_schema(ORG)), ObjectMapping())
    assert [r for r in rows if not r.ok] == []
    mapped = sum(len(keys) for keys in FIELD_RULES.values())
    assert len([r for r in rows if r.item.startswith("salesforce.objects.")]) >= mapped + 6


def test_removing_a_mapped_field_from_org_fails_the_mapping(copy: Path) -> None:
    (copy / SOURCE / "objects/Website_Job_View__c/fields/View_Count__c.field-meta.xml").unlink()
    assert _failed(copy) == {"salesforce.objects.job_view.view_count": "field View_Count__c not found"}


def test_changing_a_field_type_in_org_changes_what_describe_reports(copy: Path) -> None:
    path = copy / SOURCE / "objects/Lead_Score_Line__c/fields/Points__c.field-meta.xml"
    before = SchemaDescribe(build_schema(copy)).describe("Lead_Score_Line__c")
    text = path.read_text().replace("<type>Number</type>", "<type>Text</type>")
    path.write_text(text.replace("<precision>18</precision>", "<length>20</length>"))
    after = SchemaDescribe(build_schema(copy)).describe("Lead_Score_Line__c")
    points = (
        {f["name"]: f for f in before["fields"]}["Points__c"],
        {f["name"]: f for f in after["fields"]}["Points__c"],
    )
    assert (points[0]["type"], points[1]["type"], points[1]["length"]) == ("double", "string", 20)
    assert _failed(copy) == {"salesforce.objects.score_line.points": "Points__c is string, expected "
                             "currency/double/int/long/percent"}  # fmt: skip


def test_picklist_values_and_labels_come_from_org() -> None:
    contact = SchemaDescribe(build_schema(ORG)).describe("Contact")
    fields = {f["name"]: f for f in contact["fields"]}
    band = fields["Lead_Score_Band__c"]
    assert [v["value"] for v in band["picklistValues"]] == ["Hot", "Warm", "Lukewarm", "Cold"]
    assert band["restrictedPicklist"] is True
    names = ("Lead_Score__c", "Lead_Score_Band__c", "Medal__c", "Date_First_Qualification__c",
             "Date_First_Placement__c")  # fmt: skip
    labels = [fields[n]["label"] for n in names]
    assert labels == [
        "Leadscore", "Lead score band", "Medaille", "Datum eerste kwalificatie", "Datum eerste plaatsing",
    ]  # fmt: skip
    history = build_schema(ORG)["Contact"].tracked
    assert {"Lead_Score_Band__c", "Medal__c"} <= set(history)


def _grants(name: str) -> tuple[dict[str, bool], dict[str, dict[str, bool]]]:
    path = ORG / SOURCE / f"permissionsets/{name}.permissionset-meta.xml"
    root = ElementTree.parse(path).getroot()  # noqa: S314 - our own file
    fields = {
        str(f.findtext(NS + "field")): f.findtext(NS + "editable") == "true"
        for f in root.iter(NS + "fieldPermissions")
    }
    objects = {
        str(o.findtext(NS + "object")): {
            k: o.findtext(NS + k) == "true" for k in ("allowRead", "allowCreate", "allowEdit", "allowDelete")
        }
        for o in root.iter(NS + "objectPermissions")
    }
    return fields, objects


def test_the_integration_permission_set_grants_what_the_connector_reads_and_writes() -> None:
    schema = build_schema(ORG)
    fields, objects = _grants("MSR_Engage_Integration")
    m = ObjectMapping()
    written = {
        f"{getattr(m, group).object}.{getattr(getattr(m, group), key)}"
        for group, keys in FIELD_RULES.items()
        for key, (_types, needs, _labels) in keys.items()
        if {"update", "upsert", "external_id"} & set(needs)
    }
    required = {name for name in written if schema[name.split(".")[0]].fields[name.split(".")[1]].required}
    assert {name for name, edit in fields.items() if edit} == written - required
    polled = {
        f"{source.object}.{name}"
        for source in default_sources(m)
        for name in source.watched
        if "." not in name
    }
    grantable = {n for n in polled if schema[n.split(".")[0]].fields[n.split(".")[1]].custom}
    grantable -= {n for n in grantable if schema[n.split(".")[0]].fields[n.split(".")[1]].required}
    assert grantable <= set(fields)
    for child in (m.score_line.object, m.website_visit.object, m.job_view.object):
        assert objects[child] == dict.fromkeys(("allowRead", "allowCreate", "allowEdit", "allowDelete"), True)
    assert objects[m.contact.object]["allowEdit"]
    assert not objects[m.contact.object]["allowDelete"]
    assert objects[m.application.object] == {"allowRead": True, "allowCreate": False, "allowEdit": False,
                                             "allowDelete": False}  # fmt: skip


def test_the_recruiter_permission_set_is_read_only() -> None:
    fields, objects = _grants("MSR_Engage_Recruiter")
    assert fields
    assert not any(fields.values())
    assert all(o["allowRead"] and not (o["allowCreate"] or o["allowEdit"] or o["allowDelete"])
               for o in objects.values())  # fmt: skip
