"""How fast the local org emulator answers: 200-record Collections upserts and 2,000-row query pages.

Run: .venv/bin/python bench/emulator_bench.py [--rounds N]
Client and server share this process and its 2 cores (HTTPS, keep-alive, one client thread), so the
figures are a floor for what a connector benchmark can ask of the emulator.
"""

from __future__ import annotations

import argparse
import time

from connector.emulator.testing import running_emulator


def main() -> None:
    """Measure and print requests/s for both operations."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    with running_emulator() as em:
        org = em.org
        contacts = [
            org.create("Contact", {"LastName": f"B{i:05d}", "Lead_Score__c": i % 100}) for i in range(4000)
        ]
        session = em.session()
        token = em.token(session)["access_token"]
        base = em.instance_url + "/services/data/v59.0"
        headers = {"Authorization": f"Bearer {token}"}
        upsert_url = base + "/composite/sobjects/Lead_Score_Line__c/External_Id__c"

        def batch(round_no: int) -> dict[str, object]:
            records = [
                {"attributes": {"type": "Lead_Score_Line__c"}, "External_Id__c": f"{round_no % 10}:{i}",
                 "Contact__c": contacts[i], "Rule__c": "intake", "Points__c": round_no}
                for i in range(200)
            ]  # fmt: skip
            return {"allOrNone": False, "records": records}

        session.patch(upsert_url, json=batch(0), headers=headers).raise_for_status()  # warm-up
        start = time.perf_counter()
        for n in range(rounds):
            response = session.patch(upsert_url, json=batch(n), headers=headers)
            response.raise_for_status()
            assert all(r["success"] for r in response.json())
        upsert_s = time.perf_counter() - start

        soql = "SELECT Id, LastName, Lead_Score__c, RecordType.DeveloperName, SystemModstamp FROM Contact"
        first = session.get(base + "/query", params={"q": soql}, headers=headers).json()
        next_url = em.instance_url + first["nextRecordsUrl"]
        start = time.perf_counter()
        for _ in range(rounds):
            page = session.get(base + "/query", params={"q": soql}, headers=headers).json()
            assert len(page["records"]) == 2000
        query_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(rounds):
            page = session.get(next_url, headers=headers).json()
            assert len(page["records"]) == 2000
        more_s = time.perf_counter() - start

    for label, seconds, per_request in (
        ("collections upsert, 200 records/request", upsert_s, 200),
        ("query, first 2,000-row page (of 4,000)", query_s, 2000),
        ("queryMore, 2,000-row page (cursor)", more_s, 2000),
    ):
        print(f"{label:42} {rounds / seconds:6.1f} req/s ({per_request * rounds / seconds:,.0f} records/s)")


if __name__ == "__main__":
    main()
