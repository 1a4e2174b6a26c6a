"""Progress of long org work (the first sync, a backfill): what goes over the wire, shown as it goes.

`WatchedOrg` wraps the org client and tells a `WireProgress` each page read (per object queried) and
each batch of records sent (per object written), so the shell's cycle stays free of presentation. The
bars are rich's, transient, on stderr: on a terminal they show while the work runs and vanish after;
off a terminal rich draws nothing and the cycle's log lines are the record.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from connector.config.salesforce import SalesforceSettings
from connector.sf.policy import ApiUsage, Breaker
from connector.sf.port import OrgPort
from connector.sf.readers import Page

_PARENS = re.compile(r"\([^()]*\)")
_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)


def queried_object(soql: str) -> str:
    """The object a SOQL query reads (its outer FROM; sub-queries in parentheses are skipped)."""
    outer = soql
    while _PARENS.search(outer):
        outer = _PARENS.sub("", outer)
    found = _FROM.search(outer)
    return found.group(1) if found else "?"


def wire_progress(console: Console) -> Progress:
    """A bar per task, its end the records its queries announced (none for sends): counts in words."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # off a terminal rich would still end with a blank line
    )


class WireProgress:
    """Counts per object, each a bar: records read and pages, records sent and calls."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.tasks: dict[str, TaskID] = {}
        self.counts: dict[str, tuple[int, int]] = {}
        self.totals: dict[str, int] = {}  # per bar: the records its queries said they have (totalSize)

    def _add(self, key: str, records: int, unit: str, expect: int | None = None) -> None:
        done, calls = self.counts.get(key, (0, 0))
        done, calls = done + records, calls + 1
        self.counts[key] = done, calls
        if expect is not None:
            self.totals[key] = self.totals.get(key, 0) + expect
        total = self.totals.get(key)
        of = f" of {total:,}" if total is not None else ""
        detail = f"{done:,}{of} records, {calls} {unit}{'' if calls == 1 else 's'}"
        if key not in self.tasks:
            self.tasks[key] = self.bars.add_task(key, total=None, detail=detail)
        self.bars.update(self.tasks[key], completed=done, total=total, detail=detail)

    def read(self, obj: str, records: int, expect: int | None = None) -> None:
        """One page of `obj` read; `expect` is the query's `totalSize` when it is its first page."""
        self._add(f"read {obj}", records, "page", expect)

    def sent(self, obj: str, records: int) -> None:
        """One call sending `records` of `obj` (sObject Collections, or one Bulk upload)."""
        self._add(f"sent {obj}", records, "call")


class WatchedOrg:
    """An `OrgPort` that passes every call on and reports pages read and records sent."""

    def __init__(self, inner: OrgPort, watch: WireProgress) -> None:
        self.inner, self.watch = inner, watch
        self.bulk_objects: dict[str, str] = {}  # Bulk job id -> its object

    @property
    def settings(self) -> SalesforceSettings:
        return self.inner.settings

    @property
    def org_id(self) -> str:
        return self.inner.org_id

    @property
    def usage(self) -> ApiUsage | None:
        return self.inner.usage

    @property
    def breaker(self) -> Breaker:
        return self.inner.breaker

    @property
    def calls_by_kind(self) -> Counter[str]:
        return self.inner.calls_by_kind

    def start_cycle(self) -> None:
        self.inner.start_cycle()

    def end_cycle(self) -> None:
        self.inner.end_cycle()

    def count(self, soql: str) -> int:
        return self.inner.count(soql)

    def query_pages(
        self, soql: str, *, include_deleted: bool = True, bulk_above: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        obj = queried_object(soql)
        pages = self.inner.query_pages(soql, include_deleted=include_deleted, bulk_above=bulk_above)
        for number, page in enumerate(pages):
            told = page.total if isinstance(page, Page) and number == 0 else None
            self.watch.read(obj, len(page), told)
            yield page

    def bulk_query_pages(self, soql: str, *, include_deleted: bool = True) -> Iterator[list[dict[str, Any]]]:
        obj = queried_object(soql)
        for page in self.inner.bulk_query_pages(soql, include_deleted=include_deleted):
            self.watch.read(obj, len(page))
            yield page

    def pause(self, seconds: float) -> None:
        self.inner.pause(seconds)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.inner.get(path, params)

    def send(self, method: str, path: str, body: Any = None, *, idempotent: bool) -> Any:
        answer = self.inner.send(method, path, body, idempotent=idempotent)
        if method == "PATCH" and path.startswith("composite/sobjects") and isinstance(body, dict):
            records = body.get("records") or []
            if records:
                self.watch.sent(str(records[0].get("attributes", {}).get("type", "?")), len(records))
        elif method == "POST" and path == "jobs/ingest" and isinstance(body, dict):
            self.bulk_objects[str(answer.get("id"))] = str(body.get("object", "?"))
        return answer

    def send_raw(
        self,
        method: str,
        path: str,
        *,
        data: str | None = None,
        content_type: str = "text/csv",
        headers_out: dict[str, str] | None = None,
    ) -> str:
        answer = self.inner.send_raw(
            method, path, data=data, content_type=content_type, headers_out=headers_out
        )
        job = re.fullmatch(r"jobs/ingest/(\w+)/batches", path)
        if method == "PUT" and job and data:
            rows = sum(1 for _ in csv.reader(io.StringIO(data))) - 1  # less the header; quoted newlines
            self.watch.sent(self.bulk_objects.get(job.group(1), "?"), rows)
        return answer


@contextmanager
def watched(client: OrgPort, console: Console) -> Iterator[tuple[WatchedOrg, Progress]]:
    """The client, watched, and the bars it draws on (to add a bar of one's own, like backfill's)."""
    with wire_progress(console) as bars:
        yield WatchedOrg(client, WireProgress(bars)), bars
