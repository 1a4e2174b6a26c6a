"""Each fault the emulator injects, observed the way a client of a real org would see it."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from connector.emulator.testing import RunningEmulator


def test_a_503_burst_fails_exactly_that_many_calls(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    emulator.org.fail_next(2, status=503, endpoint="query")
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as caught:
            sf.query("SELECT Id FROM Contact")
        assert caught.value.status == 503
        assert caught.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert sf.query("SELECT Id FROM Contact")["done"]


def test_a_500_on_one_endpoint_leaves_others_alone(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    emulator.org.fail_next(1, status=500, endpoint="collections_update")
    assert sf.query("SELECT Id FROM Contact")["done"]
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.restful("composite/sobjects", method="PATCH", json={"records": []})
    assert caught.value.status == 500
    assert caught.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"


def test_a_scripted_request_limit_answers_like_the_daily_limit(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    emulator.org.fail_next(1, status=403, endpoint="collections_update")
    assert sf.query("SELECT Id FROM Contact")["done"]
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.restful("composite/sobjects", method="PATCH", json={"records": []})
    assert caught.value.status == 403
    assert caught.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    sf.restful("composite/sobjects", method="PATCH", json={"records": []})  # the next call goes through


def test_a_random_error_rate_is_repeatable(emulator: RunningEmulator) -> None:
    emulator.org.faults.set_error_rate(0.5, status=503)
    session = emulator.session()
    token = emulator.token(session)["access_token"]
    statuses = [
        session.get(
            emulator.instance_url + "/services/data/v59.0/limits",
            headers={"Authorization": f"Bearer {token}"},
        ).status_code
        for _ in range(20)
    ]
    assert set(statuses) == {200, 503}


def test_a_delayed_response_is_a_client_read_timeout(emulator: RunningEmulator) -> None:
    emulator.org.delay_next(1, seconds=0.5, endpoint="query")
    sf = emulator.salesforce(emulator.session(timeout=0.1))
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.query("SELECT Id FROM Contact")
    assert sf.query("SELECT Id FROM Contact")["done"]


def test_unable_to_lock_row_fails_only_the_scripted_records(emulator: RunningEmulator) -> None:
    org = emulator.org
    ids = [org.create("Contact", {"LastName": f"L{i}"}) for i in range(3)]
    org.lock_rows(ids={ids[1]})
    sf = emulator.salesforce()
    records = [{"attributes": {"type": "Contact"}, "Id": i, "Lead_Score__c": 10} for i in ids]
    results = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records})
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert org.record("Contact", ids[1])["Lead_Score__c"] is None  # type: ignore[index]
    org.faults.clear()
    org.lock_rows(count=1)
    results = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records})
    assert [r["success"] for r in results] == [False, True, True]


def test_sessions_expire_after_n_calls_and_a_new_login_works(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    emulator.org.expire_tokens_after(2)
    sf.query("SELECT Id FROM Contact")
    sf.query("SELECT Id FROM Contact")
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Contact")
    assert caught.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    assert emulator.salesforce().query("SELECT Id FROM Contact")["done"]


def test_the_daily_api_limit_refuses_every_call_once_reached(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    emulator.org.set_api_limit(100, used=98)
    sf.query("SELECT Id FROM Contact")
    assert sf.api_usage["api-usage"].used == 99
    assert sf.api_usage["api-usage"].total == 100
    sf.query("SELECT Id FROM Contact")
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Contact")
    assert caught.value.status == 403
    assert caught.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert emulator.org.api_used == 100


def test_limits_endpoint_reports_usage(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    emulator.org.set_api_limit(15000, used=10)
    assert sf.limits()["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 11}


def test_commit_lag_hides_a_change_but_keeps_its_earlier_systemmodstamp(emulator: RunningEmulator) -> None:
    org = emulator.org
    cid = org.create("Contact", {"LastName": "Lag", "Lead_Score__c": 1})
    org.set_commit_lag(5)
    org.advance(1)
    org.update("Contact", cid, {"Lead_Score__c": 2})
    new = org.create("Contact", {"LastName": "Late"})
    changed_at = org.record("Contact", cid)["SystemModstamp"]  # type: ignore[index]
    sf = emulator.salesforce()
    soql = "SELECT Id, Lead_Score__c, SystemModstamp FROM Contact ORDER BY SystemModstamp, Id"
    before = sf.query(soql)["records"]
    assert [(r["Id"], r["Lead_Score__c"]) for r in before] == [(cid, 1.0)]
    org.advance(6)
    after = sf.query(soql)["records"]
    assert [(r["Id"], r["Lead_Score__c"]) for r in after] == [(cid, 2.0), (new, None)]
    assert after[0]["SystemModstamp"] == changed_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    assert changed_at < org.clock.now().replace(microsecond=0)


def test_call_counters_count_per_endpoint(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    sf.query("SELECT Id FROM Contact")
    sf.describe()
    sf.Contact.describe()
    assert emulator.org.call_counts() == {"token": 1, "query": 1, "describe_global": 1, "describe": 1}
