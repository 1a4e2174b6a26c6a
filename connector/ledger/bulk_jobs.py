"""Bulk 2.0 ingest jobs still running when a cycle's deadline passed, and the writes inside them.

A cycle that leaves a job running records it here in the transaction that confirms its other writes;
a later cycle collects the job's results, confirms them and drops the job in one transaction. While a
job is here its writes are in flight: no cycle sends them again (`in_flight`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.details import RecordWrite
from connector.ledger.store import Ledger


@dataclass(frozen=True)
class PendingWrite:
    """One write inside a running job and what to record once the org accepted it (plain JSON)."""

    write: RecordWrite
    confirm: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingJob:
    """A job the org is still processing: its id, object, key field, when it was sent, its writes."""

    job_id: str
    object: str
    key_field: str
    started_at: datetime
    writes: tuple[PendingWrite, ...]


def save_jobs(ledger: Ledger, jobs: Iterable[PendingJob]) -> None:
    """Record jobs left running (with their writes)."""
    with ledger.transaction():
        for job in jobs:
            ledger.db.conn.execute(
                "INSERT OR REPLACE INTO bulk_jobs VALUES (?, ?, ?, ?)",
                (job.job_id, job.object, job.key_field, job.started_at.astimezone(UTC).isoformat()),
            )
            ledger.db.conn.executemany(
                "INSERT OR REPLACE INTO bulk_job_writes VALUES (?, ?, ?, ?, ?)",
                [
                    (job.job_id, p.write.key_value, p.write.parent,
                     json.dumps(dict(p.write.values), default=str), json.dumps(dict(p.confirm)))
                    for p in job.writes
                ],
            )  # fmt: skip


def pending_jobs(ledger: Ledger) -> list[PendingJob]:
    """The recorded jobs, oldest first."""
    jobs = []
    for job_id, obj, key_field, started in ledger.db.execute(
        "SELECT job_id, object, key_field, started_at FROM bulk_jobs ORDER BY started_at, job_id"
    ).fetchall():
        rows = ledger.db.execute(
            "SELECT key_value, contact_id, payload, confirm FROM bulk_job_writes WHERE job_id = ? "
            "ORDER BY key_value",
            [job_id],
        ).fetchall()
        writes = tuple(
            PendingWrite(
                RecordWrite(obj, key_field, key, json.loads(payload), parent=contact), json.loads(conf)
            )
            for key, contact, payload, conf in rows
        )
        jobs.append(PendingJob(job_id, obj, key_field, datetime.fromisoformat(started), writes))
    return jobs


def drop_job(ledger: Ledger, job_id: str) -> None:
    """Forget a job once its results are confirmed."""
    with ledger.transaction():
        ledger.db.conn.execute("DELETE FROM bulk_job_writes WHERE job_id = ?", [job_id])
        ledger.db.conn.execute("DELETE FROM bulk_jobs WHERE job_id = ?", [job_id])


def in_flight(ledger: Ledger) -> set[tuple[str, str]]:
    """(object, record key) of every write inside a recorded job."""
    sql = "SELECT j.object, w.key_value FROM bulk_job_writes w JOIN bulk_jobs j USING (job_id)"
    return {(obj, key) for obj, key in ledger.db.execute(sql)}


def count_in_flight(ledger: Ledger) -> Mapping[str, int]:
    """Jobs and writes in flight, for `status`."""
    jobs = int(ledger.db.execute("SELECT count(*) FROM bulk_jobs").fetchone()[0])
    writes = int(ledger.db.execute("SELECT count(*) FROM bulk_job_writes").fetchone()[0])
    return {"jobs": jobs, "writes": writes}
