"""SOQL over HTTPS: paging, queryAll, parent paths, filters, ordering, and loud refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.emulator.soql import SoqlError, parse
from connector.emulator.testing import RunningEmulator


def _contacts(em: RunningEmulator, n: int, **values: object) -> list[str]:
    rt = em.org.record_types["Candidate"]
    return [
        em.org.create("Contact", {"LastName": f"C{i:05d}", "RecordTypeId": rt, **values}) for i in range(n)
    ]


def test_a_5000_row_query_pages_through_next_records_url(emulator: RunningEmulator) -> None:
    ids = _contacts(emulator, 5000)
    sf = emulator.salesforce()
    sf.headers["Sforce-Query-Options"] = "batchSize=1000"
    seen = [r["Id"] for r in sf.query_all_iter("SELECT Id FROM Contact ORDER BY SystemModstamp, Id")]
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen)) == 5000
    calls = emulator.org.call_counts()
    assert calls["query"] == 1
    assert calls["query_more"] == 4


def test_default_page_is_2000_and_batch_size_is_clamped_to_200(emulator: RunningEmulator) -> None:
    _contacts(emulator, 2500)
    sf = emulator.salesforce()
    first = sf.query("SELECT Id FROM Contact")
    assert (first["totalSize"], len(first["records"]), first["done"]) == (2500, 2000, False)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    sf.headers["Sforce-Query-Options"] = "batchSize=10"
    assert len(sf.query("SELECT Id FROM Contact")["records"]) == 200


def test_query_all_returns_deleted_rows_and_query_does_not(emulator: RunningEmulator) -> None:
    keep, gone = _contacts(emulator, 2)
    emulator.org.delete("Contact", gone)
    sf = emulator.salesforce()
    live = sf.query("SELECT Id, IsDeleted FROM Contact")["records"]
    every = sf.query_all("SELECT Id, IsDeleted FROM Contact", include_deleted=True)["records"]
    assert [r["Id"] for r in live] == [keep]
    assert {r["Id"]: r["IsDeleted"] for r in every} == {keep: False, gone: True}


def test_parent_paths_come_back_as_nested_records(emulator: RunningEmulator) -> None:
    (contact,) = _contacts(emulator, 1)
    message = emulator.org.create(
        "EmailMessage", {"Subject": "Hi", "FirstOpenedDate": "2026-03-02T09:15:00Z"}
    )
    emulator.org.create(
        "EmailMessageRelation",
        {"EmailMessageId": message, "RelationId": contact, "RelationType": "ToAddress"},
    )
    sf = emulator.salesforce()
    (row,) = sf.query(
        "SELECT RelationId, EmailMessage.FirstOpenedDate, EmailMessage.Subject FROM EmailMessageRelation "
        "WHERE EmailMessage.FirstOpenedDate != null"
    )["records"]
    assert row["RelationId"] == contact
    assert row["EmailMessage"]["FirstOpenedDate"] == "2026-03-02T09:15:00.000+0000"
    assert row["EmailMessage"]["Subject"] == "Hi"
    (c,) = sf.query("SELECT RecordType.DeveloperName, Account.Name FROM Contact")["records"]
    assert c["RecordType"]["DeveloperName"] == "Candidate"
    assert c["Account"] is None


def test_where_order_limit_and_count(emulator: RunningEmulator) -> None:
    org = emulator.org
    for name, score, band in [
        ("Ann", 80, "Hot"),
        ("bob", 55, "Warm"),
        ("Cid", 10, None),
        ("Dee", None, "Cold"),
    ]:
        org.create("Contact", {"LastName": name, "Lead_Score__c": score, "Lead_Score_Band__c": band})
    sf = emulator.salesforce()

    def names(where: str, tail: str = "ORDER BY LastName") -> list[str]:
        soql = f"SELECT LastName FROM Contact WHERE {where} {tail}"  # noqa: S608 - test literals only
        return [r["LastName"] for r in sf.query(soql)["records"]]

    assert names("Lead_Score__c >= 50") == ["Ann", "bob"]
    assert names("(Lead_Score__c < 50 OR Lead_Score__c = null) AND NOT LastName = 'dee'") == ["Cid"]
    assert names("Lead_Score_Band__c IN ('Hot', 'Cold')") == ["Ann", "Dee"]
    assert names("Lead_Score_Band__c NOT IN ('Hot')") == ["bob", "Cid", "Dee"]
    assert names("LastName LIKE 'b%'") == ["bob"]
    assert names(
        "Lead_Score_Band__c != null", "ORDER BY Lead_Score__c DESC NULLS LAST, LastName LIMIT 2"
    ) == ["Ann", "bob"]
    assert names("Lead_Score_Band__c != 'Hot'", "ORDER BY Lead_Score__c ASC") == ["Dee", "Cid", "bob"]
    assert names("CreatedDate = TODAY AND Tracking_Consent__c = false") == ["Ann", "bob", "Cid", "Dee"]
    assert sf.query("SELECT COUNT() FROM Contact WHERE Lead_Score__c > 0")["totalSize"] == 3


def test_datetime_literals_compare_without_milliseconds(emulator: RunningEmulator) -> None:
    emulator.org.clock.freeze(datetime(2026, 3, 2, 9, 15, 0, 900_000, tzinfo=UTC))
    (cid,) = _contacts(emulator, 1)
    sf = emulator.salesforce()
    soql = f"SELECT SystemModstamp FROM Contact WHERE Id = '{cid[:15]}'"  # noqa: S608 - an id we made
    row = sf.query(soql)["records"][0]
    assert row["SystemModstamp"] == "2026-03-02T09:15:00.000+0000"
    q = "SELECT Id FROM Contact WHERE SystemModstamp >= 2026-03-02T09:15:00.000Z AND SystemModstamp < {}"
    assert sf.query(q.format("2026-03-02T09:15:01Z"))["totalSize"] == 1
    assert sf.query(q.format("2026-03-02T10:15:00+01:00"))["totalSize"] == 0


@pytest.mark.parametrize(
    ("soql", "code", "says"),
    [
        ("SELECT Id FRM Contact", "MALFORMED_QUERY", "unexpected token: FRM"),
        (
            "SELECT Id FROM Contact WHERE A__c = 1 AND B__c = 2 OR C__c = 3",
            "MALFORMED_QUERY",
            "unexpected token: OR",
        ),
        ("SELECT Id FROM Contact WHERE Id IN (SELECT ContactId FROM Event)", "MALFORMED_QUERY", "semi-join"),
        ("SELECT MAX(Lead_Score__c) FROM Contact", "MALFORMED_QUERY", "MAX(...) is not supported"),
        (
            "SELECT Id, (SELECT Id FROM Events) FROM Contact",
            "MALFORMED_QUERY",
            "sub-queries are not supported",
        ),
        ("SELECT Id FROM Contact GROUP BY Id", "MALFORMED_QUERY", "GROUP is not supported"),
        ("SELECT Id FROM Contact WHERE LastName = 'unterminated", "MALFORMED_QUERY", "unexpected token"),
        ("SELECT Id FROM Contact LIMIT many", "MALFORMED_QUERY", "unexpected token: many"),
        ("SELECT Id FROM Candidate__c", "INVALID_TYPE", "sObject type 'Candidate__c' is not supported"),
        ("SELECT Score__c FROM Contact", "INVALID_FIELD", "No such column 'Score__c' on entity 'Contact'"),
        (
            "SELECT Recordtyp.DeveloperName FROM Contact",
            "INVALID_FIELD",
            "Didn't understand relationship 'Recordtyp'",
        ),
        (
            "SELECT Id FROM Contact WHERE CreatedDate > '2026-01-01'",
            "INVALID_FIELD",
            "must be of type dateTime",
        ),
        ("SELECT Id FROM Contact WHERE Lead_Score__c = '5'", "INVALID_FIELD", "must be of type number"),
        ("SELECT Id FROM Contact WHERE LastName = 5", "INVALID_FIELD", "must be of type string"),
        ("SELECT Id, Id FROM Contact", "MALFORMED_QUERY", "duplicate field selected: Id"),
    ],
)
def test_queries_outside_the_subset_fail_with_400_naming_the_problem(
    emulator: RunningEmulator, soql: str, code: str, says: str
) -> None:
    sf = emulator.salesforce()
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)
    assert caught.value.status == 400
    (error,) = caught.value.content
    assert error["errorCode"] == code
    assert says in error["message"]


def test_an_unknown_query_locator_is_invalid_query_locator(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more("/services/data/v59.0/query/01gKb0000000999AAA-2000", identifier_is_url=True)
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_a_cursor_expires_after_15_idle_minutes(emulator: RunningEmulator) -> None:
    _contacts(emulator, 201)
    sf = emulator.salesforce()
    sf.headers["Sforce-Query-Options"] = "batchSize=200"
    first = sf.query("SELECT Id FROM Contact")
    emulator.org.advance(timedelta(minutes=16).total_seconds())
    emulator.org.settings.token_ttl_seconds = 10**6
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_QUERY_LOCATOR"):
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)


def test_parser_keeps_structure_of_nested_conditions() -> None:
    query = parse("select Id from Contact where not (A__c = 'x' or B__c in (1, 2)) order by Id desc limit 5")
    assert query.limit == 5
    assert query.order[0].descending
    assert query.order[0].nulls_last
    with pytest.raises(SoqlError):
        parse("")
