"""Hit files of our collector are deleted once read to their end and older than the retention.

Only files the collector names (`hits-YYYY-MM-DD.ndjson` in `[pixel.collector] folder`) are touched:
logs of a web server or of the provider are the admin's to rotate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import structlog

from connector.config.pixel import PixelSettings
from connector.pixel.sources import FileMark, file_key

log = structlog.get_logger(__name__)
_HIT_FILE = re.compile(r"hits-(\d{4}-\d{2}-\d{2})\.ndjson")


def prune_read_hit_files(
    settings: PixelSettings, paths: Sequence[Path], marks: Mapping[str, FileMark], now: datetime
) -> list[Path]:
    """Delete the collector's hit files of days before the retention that were read to their end."""
    folder = settings.collector_folder.resolve()
    oldest_kept = now.date() - timedelta(days=settings.collector.retention_days)
    deleted: list[Path] = []
    for path in paths:
        match = _HIT_FILE.fullmatch(path.name)
        if match is None or path.parent.resolve() != folder:
            continue
        try:
            if date.fromisoformat(match[1]) >= oldest_kept:
                continue
            st = path.stat()
        except (ValueError, OSError):
            continue
        mark = marks.get(file_key(st))
        if mark is None or mark.offset != st.st_size:
            continue  # not read to its end (or not at all): its hits are not in the ledger yet
        try:
            path.unlink()
        except OSError as exc:
            log.warning("pixel_hit_file_not_deleted", path=str(path), error=exc.strerror)
            continue
        deleted.append(path)
    if deleted:
        log.info(
            "pixel_hit_files_deleted", files=len(deleted), retention_days=settings.collector.retention_days
        )
    return deleted
