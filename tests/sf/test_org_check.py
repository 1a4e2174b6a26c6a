"""The integration user's row of `check` and the checklist, without an org."""

from __future__ import annotations

from typing import Any

from connector.errors import TransientError
from connector.sf.auth import user_from_identity
from connector.sf.mapping import CheckRow
from connector.sf.org_check import CHECKLIST, check_user, checklist


def test_the_user_id_comes_from_the_identity_url() -> None:
    url = "https://login.salesforce.com/id/00DKb0000000001AAA/005Kb0000000001AAA"
    assert user_from_identity(url) == "005Kb0000000001AAA"
    assert user_from_identity("https://login.salesforce.com/id/00DKb0000000001AAA/") == ""
    assert user_from_identity(None) == ""


def _answer(profile: str, licence: str = "Salesforce Integration") -> dict[str, Any]:
    record = {"Username": "u@x", "Profile": {"Name": profile, "UserLicense": {"Name": licence}}}
    return {"records": [record]}


def test_an_api_only_profile_passes_also_written_with_an_en_dash() -> None:
    row = check_user(lambda _soql: _answer("Minimum Access \u2013 API Only Integrations"), "005A")
    assert (row.ok, row.warn) == (True, False)


def test_another_profile_or_no_answer_is_a_warning_not_a_failure() -> None:
    admin = check_user(lambda _soql: _answer("System Administrator", "Salesforce"), "005A")
    assert (admin.ok, admin.warn) == (True, True)
    assert admin.detail == "u@x: profile 'System Administrator', licence 'Salesforce'"

    def refuse(_soql: str) -> dict[str, Any]:
        raise TransientError("HTTP 503")

    down = check_user(refuse, "005A")
    assert (down.ok, down.warn, down.detail) == (True, True, "cannot read the user's profile: HTTP 503")
    assert check_user(lambda _soql: {"records": []}, "005A").warn
    assert check_user(lambda _soql: _answer("x"), "").detail == "the login named no user"


def test_each_checklist_line_is_passed_not_passed_or_not_checked() -> None:
    rows = [
        CheckRow("login", True, ""),
        CheckRow("integration user", True, "", warn=True),
        CheckRow("salesforce.objects.contact.object", True, "Contact"),
        CheckRow("salesforce.objects.contact.medal", False, "Medal__c is not updateable", topic="access"),
        CheckRow("salesforce.objects.contact.medal_values", True, ""),
        CheckRow("sync.step_history", True, "not tracked", warn=True),
        CheckRow("api budget", True, ""),
    ]
    assert checklist(rows) == [
        (CHECKLIST[0][0], True),
        (CHECKLIST[1][0], False),  # a warning does not pass the guide's line
        (CHECKLIST[2][0], True),  # deployed: the field exists, only access is missing
        (CHECKLIST[3][0], False),
        (CHECKLIST[4][0], None),  # no rows of what the sources read: not checked
        (CHECKLIST[5][0], False),  # steps between polls can be missed: a warning
        (CHECKLIST[6][0], True),
        (CHECKLIST[7][0], None),  # no rule rows: not checked
        (CHECKLIST[8][0], True),
    ]
