"""Deleting records by Id: ≤ 200 ids a call, allOrNone=false, one outcome per record."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

from connector.details import RecordWrite
from connector.sf.client import SalesforceClient
from connector.sf.writer import Outcome, delete_records
from tests.sf.conftest import BASE

COLLECTIONS = BASE + "composite/sobjects"


def visit(i: int) -> RecordWrite:
    """A website visit to delete."""
    return RecordWrite("Website_Visit__c", "Id", f"a0E{i:015d}", parent="003A")


def ids_of(request: Any) -> list[str]:
    """The ids a delete call names."""
    return parse_qs(urlsplit(request.url).query)["ids"][0].split(",")


def test_450_deletes_cost_three_calls_of_at_most_200_without_all_or_none(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    def ok(request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, json.dumps([{"id": i, "success": True, "errors": []} for i in ids_of(request)])

    rsps.add_callback(responses.DELETE, COLLECTIONS, callback=ok)
    result = delete_records(client, [visit(i) for i in range(450)])
    calls = [c.request for c in rsps.calls if c.request.method == "DELETE"]
    assert [len(ids_of(r)) for r in calls] == [200, 200, 50]
    assert all(parse_qs(urlsplit(r.url).query)["allOrNone"] == ["false"] for r in calls)
    assert (len(result.succeeded), result.calls) == (450, 3)


def test_a_record_already_gone_counts_as_deleted_and_a_refusal_as_refused(
    client: SalesforceClient, rsps: responses.RequestsMock
) -> None:
    answers = [
        {"id": None, "success": False, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "gone"}]},
        {"id": None, "success": False, "errors": [{"statusCode": "INSUFFICIENT_ACCESS", "message": "no"}]},
        {"id": "a0E000000000000002", "success": True, "errors": []},
    ]
    rsps.add(responses.DELETE, COLLECTIONS, json=answers)
    result = delete_records(client, [visit(i) for i in range(3)])
    assert [o.outcome for o in result.outcomes] == [Outcome.ACCEPTED, Outcome.REFUSED, Outcome.ACCEPTED]
    assert result.failed[0].error_code == "INSUFFICIENT_ACCESS"
