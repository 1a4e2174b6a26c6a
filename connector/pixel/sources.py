"""Where hits come from: a folder of log files read incrementally, and the provider's HTTP API.

Files are remembered by identity (device + inode), not by name, with the offset read so far and a
fingerprint of their first bytes. So a log renamed by rotation (`access.log` → `access.log.1`) is
continued where it was left, the new `access.log` is read from its start, and a file truncated in
place (copytruncate) or rewritten is noticed and read from its start again — never skipped, never
read twice. State goes in and out as plain `FileMark`s; nothing here touches the ledger.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import requests

from connector.config.pixel import LogFormat, PixelApi
from connector.errors import ProviderGarbageError, ProviderRefusedError, ProviderUnavailableError

HEAD_BYTES = 1024


@dataclass(frozen=True, slots=True)
class FileMark:
    """How far a file has been read, and how to recognise it again."""

    key: str  # "device:inode"
    path: str  # where it was last seen (for people; identity is the key)
    offset: int  # bytes read so far, always at a line start
    head: str  # sha256 of the first `head_len` bytes
    head_len: int


class ReadStatus(StrEnum):
    """How a file was found against its mark; the values are what a run's report shows per file."""

    NEW = "new"  # no mark: read from its start
    APPENDED = "appended"  # lines added after the mark
    UNCHANGED = "unchanged"  # nothing new (or a format not read)
    TRUNCATED = "truncated"  # same file, other content (copytruncate, rewritten): read from its start


@dataclass(frozen=True, slots=True)
class FileRead:
    """The complete new lines of one file and its mark after reading them."""

    path: Path
    format: LogFormat
    lines: list[bytes]
    mark: FileMark
    status: ReadStatus
    header: bytes  # first line of the file (the CSV header), b"" otherwise
    incomplete: bool  # a last line without newline was left for the next run
    more: bool  # the read stopped at the size cap: call again for the rest


def detect_format(path: Path, first_line: bytes) -> LogFormat:
    """NDJSON, CSV or combined log, by name (rotation suffixes ignored), else by the first byte."""
    suffixes = [s.lower() for s in path.suffixes if not s[1:].isdigit() and s.lower() != ".old"]
    last = suffixes[-1] if suffixes else ""
    if last in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    if last == ".csv":
        return "csv"
    if last == ".log":
        return "combined"
    return "ndjson" if first_line.lstrip().startswith(b"{") else "combined"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_key(st: os.stat_result) -> str:
    """How a file is known across renames (rotation): its device and inode."""
    return f"{st.st_dev}:{st.st_ino}"


def read_new_lines(
    path: Path,
    marks: Mapping[str, FileMark],
    *,
    max_bytes: int = 64 << 20,
    formats: Collection[LogFormat] | None = None,
) -> FileRead:
    """Read the complete lines added to `path` since its mark (at most ~`max_bytes` per call).

    OSError when `path` cannot be read or is not a regular file. With `formats`, a file of another
    format is not read past its first line: its read has no lines and its mark is its old one.
    """
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        if stat.S_ISDIR(st.st_mode):  # the pixel folder itself, passed where its files were meant
            raise OSError(errno.EISDIR, f"a folder, not a hit file: name the files in it ({path}/*)")
        raise OSError(errno.EINVAL, "not a regular file")
    with os.fdopen(fd, "rb") as stream:
        key = file_key(st)
        head = stream.read(HEAD_BYTES)
        if b"\n" in head:
            first_line = head.split(b"\n", 1)[0]
        elif len(head) == HEAD_BYTES:
            stream.seek(0)
            first_line = stream.readline(1 << 16).rstrip(b"\n")
        else:
            first_line = b""  # no complete line yet
        mark = marks.get(key)
        fmt = detect_format(path, first_line or head)
        if formats is not None and fmt not in formats:
            kept = mark or FileMark(key, str(path), 0, _digest(b""), 0)
            return FileRead(
                path, fmt, [], kept, ReadStatus.UNCHANGED, first_line, incomplete=False, more=False
            )
        if mark is None:
            start, status = 0, ReadStatus.NEW
        elif st.st_size < mark.offset or _digest(head[: mark.head_len]) != mark.head:
            start, status = 0, ReadStatus.TRUNCATED  # same inode, other content: read it all again
        else:
            start, status = mark.offset, ReadStatus.APPENDED
        stream.seek(start)
        data = stream.read(max_bytes)
        more = len(data) == max_bytes
        if more:
            data += stream.readline()  # finish the line the cap cut through
            more = bool(stream.read(1))
    end = data.rfind(b"\n") + 1
    lines = data[:end].split(b"\n")[:-1] if end else []
    if status is ReadStatus.APPENDED and not lines:
        status = ReadStatus.UNCHANGED
    offset = start + end
    head_len = min(offset, HEAD_BYTES)
    return FileRead(
        path=path,
        format=fmt,
        lines=lines,
        mark=FileMark(key, str(path), offset, _digest(head[:head_len]), head_len),
        status=status,
        header=first_line,
        incomplete=end < len(data),
        more=more,
    )


# -- the provider's HTTP API ------------------------------------------------------------------------


class HttpSession(Protocol):
    """The part of `requests.Session` the API source uses (a port, so tests can pass fakes)."""

    def get(self, url: str, **kwargs: Any) -> requests.Response: ...


@dataclass(frozen=True, slots=True)
class ApiPage:
    """One page of provider hits, mapped to our field names, and the cursor after it."""

    items: list[dict[str, Any] | None]  # None: the provider sent something that is not an object
    cursor: str | None


def map_item(item: object, field_map: Mapping[str, str]) -> dict[str, Any] | None:
    """A provider hit as a dict of our field names (None when it is not a JSON object)."""
    if not isinstance(item, dict):
        return None
    return {ours: item.get(field_map.get(ours, ours)) for ours in _OUR_FIELDS}


_OUR_FIELDS = ("time", "url", "referrer", "user_agent", "ip", "visitor_id", "token")


def fetch_pages(session: HttpSession, api: PixelApi, cursor: str | None) -> Iterator[ApiPage]:
    """Pages of hits after `cursor`, following the provider's next cursor until it has no more.

    The one place the provider's answers are classified: unavailable (retry next cycle), refused
    (fix the settings) or garbage (not the JSON expected).
    """
    headers = {"Accept": "application/json"}
    if api.auth_value is not None:
        headers[api.auth_header] = api.auth_value.get_secret_value()
    for _ in range(api.max_pages):
        params: dict[str, str | int] = {api.page_size_param: api.page_size}
        if cursor:
            params[api.cursor_param] = cursor
        try:
            # No redirects: requests would carry our custom auth header to wherever a 3xx points.
            response = session.get(
                api.url, params=params, headers=headers, timeout=api.timeout_seconds, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise ProviderUnavailableError(f"pixel API: {type(exc).__name__}, will retry next run") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderUnavailableError(f"pixel API: HTTP {response.status_code}, will retry next run")
        if 300 <= response.status_code < 400:
            raise ProviderRefusedError(
                f"pixel API: HTTP {response.status_code} redirect, not followed: set [pixel.api] url to"
                " where it points (https)"
            )
        if response.status_code >= 400:
            raise ProviderRefusedError(
                f"pixel API: HTTP {response.status_code}: check [pixel.api] url and auth"
            )
        try:
            body = response.json()
        except (ValueError, RecursionError):
            raise ProviderGarbageError("pixel API: the response is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get(api.items_key, []), list):
            raise ProviderGarbageError(f"pixel API: expected an object with a list under {api.items_key!r}")
        items = [map_item(item, api.field_map) for item in body.get(api.items_key, [])]
        following = body.get(api.next_cursor_key)
        following = following if isinstance(following, str) and following else None
        yield ApiPage(items, following or cursor)
        if following is None or following == cursor or not items:
            return
        cursor = following
