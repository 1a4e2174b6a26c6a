"""org/ is checked offline: schema of every file, names it refers to, and Salesforce's own conversion."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.orgproject.orgcheck import TYPES_FILE, check_project

REPO = Path(__file__).resolve().parents[2]
ORG = REPO / "org"
TOOLS = REPO / "tools"
SOURCE = "force-app/main/default"
HERE = Path(__file__).parent
NOWHERE = "neither in org/ nor in msr-schema.json"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of org/ to break."""
    target = tmp_path / "org"
    shutil.copytree(ORG, target)
    return target


def _node(script: str, *args: str) -> str:
    done = subprocess.run(
        ["node", str(HERE / script), str(TOOLS), *args],  # noqa: S607 - node from PATH, as make test
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_project_in_the_repository_passes() -> None:
    assert [str(p) for p in check_project(ORG)] == []


def test_the_metadata_types_are_those_of_the_pinned_jsforce() -> None:
    pinned = json.loads((TOOLS / "package.json").read_text())["dependencies"]["jsforce"]
    exported = json.loads(_node("export_types.js"))
    assert exported["jsforce"] == pinned
    assert exported == json.loads(TYPES_FILE.read_text()), (
        "re-export: node tests/orgproject/export_types.js tools"
    )


def test_salesforce_source_deploy_retrieve_converts_every_file(tmp_path: Path) -> None:
    out = tmp_path / "mdapi"
    made = json.loads(_node("convert.js", str(ORG), str(out)))
    names = {(c["type"], c["fullName"]) for c in made["components"]}
    names |= {tuple(k.split(":", 1)) for c in made["components"] for k in c["children"]}
    fields = {p.name.removesuffix(".field-meta.xml") for p in (ORG / SOURCE).rglob("*.field-meta.xml")}
    assert len([n for n in names if n[0] == "CustomField"]) == len(
        list((ORG / SOURCE).rglob("*.field-meta.xml"))
    )
    assert {n.split(".")[1] for t, n in names if t == "CustomField"} == fields
    assert ("PermissionSet", "MSR_Engage_Integration") in names
    assert ("ListView", "Contact.Hot_candidates") in names
    assert ("Report", "MSR_Engage/Band_by_first_placement") in names
    package = ElementTree.parse(out / "package.xml").getroot()  # noqa: S314 - made by SDR from our files
    ns = "{http://soap.sforce.com/2006/04/metadata}"
    kinds = {t.findtext(f"{ns}name") for t in package.iter(f"{ns}types")}
    assert kinds >= {
        "CustomObject",
        "CustomField",
        "Layout",
        "ListView",
        "PermissionSet",
        "ReportType",
        "Report",
    }
    # Contact is not ours: the deploy adds fields and a list view to it, never a Contact object definition.
    assert ("CustomObject", "Contact") not in names


def test_a_misspelt_element_fails_naming_file_and_element(copy: Path) -> None:
    path = copy / SOURCE / "objects/Contact/fields/Medal__c.field-meta.xml"
    path.write_text(path.read_text().replace("inlineHelpText>", "inlineHelpTxt>"))
    problems = [str(p) for p in check_project(copy)]
    assert problems == [
        f"{SOURCE}/objects/Contact/fields/Medal__c.field-meta.xml: <CustomField/inlineHelpTxt>: "
        "CustomField has no element <inlineHelpTxt>"
    ]


def test_a_misspelt_nested_element_is_found_too(copy: Path) -> None:
    path = copy / SOURCE / "permissionsets/MSR_Engage_Integration.permissionset-meta.xml"
    path.write_text(
        path.read_text().replace("<allowEdit>", "<allowedit>", 1).replace("</allowEdit>", "</allowedit>", 1)
    )
    file = f"{SOURCE}/permissionsets/MSR_Engage_Integration.permissionset-meta.xml"
    assert [str(p) for p in check_project(copy)] == [
        f"{file}: <PermissionSet/objectPermissions/allowedit>: PermissionSetObjectPermissions has no element "
        "<allowedit> (did you mean <allowEdit>?)",
        f"{file}: <PermissionSet/objectPermissions/allowEdit>: PermissionSetObjectPermissions needs "
        "<allowEdit>",
    ]


def test_malformed_xml_fails_naming_the_file(copy: Path) -> None:
    path = copy / SOURCE / "objects/Website_Visit__c/fields/Pages__c.field-meta.xml"
    path.write_text(path.read_text().replace("</label>", "</labl>"))
    (problem,) = check_project(copy)
    assert problem.file == f"{SOURCE}/objects/Website_Visit__c/fields/Pages__c.field-meta.xml"
    assert str(problem) == (
        f"{SOURCE}/objects/Website_Visit__c/fields/Pages__c.field-meta.xml: <line 6, column 18>: "
        "not well-formed XML (mismatched tag): <label>Pages</labl>"
    )


def test_a_permission_set_naming_a_missing_field_fails(copy: Path) -> None:
    path = copy / SOURCE / "permissionsets/MSR_Engage_Recruiter.permissionset-meta.xml"
    path.write_text(path.read_text().replace("Contact.Medal__c<", "Contact.Medaille__c<"))
    (problem,) = check_project(copy)
    assert problem.file == f"{SOURCE}/permissionsets/MSR_Engage_Recruiter.permissionset-meta.xml"
    assert problem.element == "PermissionSet/fieldPermissions/field Contact.Medaille__c"
    assert problem.reason == "field Contact.Medaille__c is neither in org/ nor in msr-schema.json"


def test_field_access_on_a_master_detail_field_is_refused(copy: Path) -> None:
    path = copy / SOURCE / "permissionsets/MSR_Engage_Recruiter.permissionset-meta.xml"
    grant = "<fieldPermissions><editable>false</editable><field>Lead_Score_Line__c.Contact__c</field>"
    path.write_text(
        path.read_text().replace(
            "<fieldPermissions>", grant + "<readable>true</readable></fieldPermissions><fieldPermissions>", 1
        )
    )
    (problem,) = check_project(copy)
    assert "Lead_Score_Line__c.Contact__c is required" in problem.reason


def test_a_list_view_report_and_layout_naming_missing_fields_fail(copy: Path) -> None:
    listview = copy / SOURCE / "objects/Contact/listViews/Hot_candidates.listView-meta.xml"
    listview.write_text(listview.read_text().replace("<columns>Medal__c", "<columns>Medal_X__c"))
    report = copy / SOURCE / "reports/MSR_Engage/Candidates_by_band.report-meta.xml"
    report.write_text(report.read_text().replace("Contact$Medal__c", "Contact$Medal_X__c"))
    layout = copy / SOURCE / "layouts/Website_Visit__c-Website Visit Layout.layout-meta.xml"
    layout.write_text(layout.read_text().replace("Pages__c", "Page__c"))
    problems = {p.file.rsplit("/", 1)[1]: p.reason for p in check_project(copy)}
    assert problems == {
        "Hot_candidates.listView-meta.xml": f"field Contact.Medal_X__c is {NOWHERE}",
        "Candidates_by_band.report-meta.xml": "Contact$Medal_X__c is no column of MSR_Engage_Candidates__c",
        "Website_Visit__c-Website Visit Layout.layout-meta.xml": (
            f"field Website_Visit__c.Page__c is {NOWHERE}"
        ),
    }


def test_a_boolean_that_is_not_one_fails(copy: Path) -> None:
    path = copy / SOURCE / "objects/Contact/fields/Lead_Score_Band__c.field-meta.xml"
    path.write_text(path.read_text().replace("<restricted>true<", "<restricted>yes<"))
    (problem,) = check_project(copy)
    assert problem.element == "CustomField/valueSet/restricted"
    assert problem.reason == "'yes' is not true or false"


def test_org_is_the_packaged_project_the_emulator_reads() -> None:
    from connector.emulator.orgsource import ORG_DIR

    assert ORG.resolve() == ORG_DIR  # org/ points into the package: an installed emulator finds it
    assert ORG_DIR.parent.name == "connector"


def test_a_required_element_left_out_fails(copy: Path) -> None:
    path = copy / SOURCE / "reports/MSR_Engage/Band_by_first_placement.report-meta.xml"
    path.write_text(path.read_text().replace("<sortOrder>Asc</sortOrder>", "", 1))
    (problem,) = check_project(copy)
    assert str(problem) == (
        f"{SOURCE}/reports/MSR_Engage/Band_by_first_placement.report-meta.xml: "
        "<Report/groupingsAcross/sortOrder>: ReportGrouping needs <sortOrder>"
    )


def test_a_list_view_filtering_on_a_record_type_the_org_lacks_fails(copy: Path) -> None:
    path = copy / SOURCE / "objects/Contact/listViews/Hot_candidates.listView-meta.xml"
    path.write_text(path.read_text().replace("Contact.Candidate", "Contact.Kandidaat"))
    (problem,) = check_project(copy)
    assert (
        problem.reason
        == "Contact.Kandidaat is no record type of Contact (Contact.Candidate, Contact.Contact_Person)"
    )
