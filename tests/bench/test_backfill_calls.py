"""`backfill` reads history through Bulk 2.0 query jobs: far fewer API calls than REST pages.

The bench (`bench/backfill_bench.py`, figures in bench/README.md) runs 200,000 applications; this
runs its code on a small org whose applications window still needs day slices on the REST path.
"""

from __future__ import annotations

from tests.bench.test_bench_smoke import load


def test_bulk_backfill_reads_in_a_fraction_of_the_rest_calls() -> None:
    bench = load("backfill_bench")
    figures = bench.compare(applications=10_500, contacts=60, days=45)
    bulk, rest = figures["bulk"], figures["rest"]
    assert bulk["applications_read"] == rest["applications_read"] == 10_500
    assert bulk["events_added"] == rest["events_added"]
    assert bulk["write_calls"] == rest["write_calls"]  # the same writes either way
    # One job for the applications: create, status, one results page (50,000 rows a page).
    assert (bulk["endpoints"]["bulk_query_create"], bulk["endpoints"]["bulk_query_results"]) == (1, 1)
    assert "bulk_query_create" not in rest["endpoints"]
    assert rest["endpoints"]["queryAll"] >= 45  # one query per day slice at least
    # Bulk reads do not grow with the rows; REST reads grow with days and pages.
    assert figures["read_ratio"] >= 3
    assert bulk["read_calls"] <= 20  # COUNT() and window per source, the step-history question, one job
