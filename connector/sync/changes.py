"""Change detection: which records of a window changed in the fields we watch. Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Changes:
    """Records whose watched fields changed, and the new hashes (by record id) for the ledger to keep."""

    changed: list[Record] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)


def field_value(record: Mapping[str, Any], path: str) -> Any:
    """A (possibly dotted, relationship) field of a record: `RecordType.DeveloperName`."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def content_hash(values: object) -> str:
    """A short stable hash of JSON-able values (dict keys sorted): what a record held when we saw it."""
    blob = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def record_hash(record: Mapping[str, Any], watched: Sequence[str]) -> str:
    """A hash of the watched fields (and IsDeleted), blind to SystemModstamp noise and our write-backs."""
    return content_hash([field_value(record, name) for name in watched] + [bool(record.get("IsDeleted"))])


def detect_changes(records: Iterable[Record], previous: Mapping[str, str], watched: Sequence[str]) -> Changes:
    """Keep only records whose watched-field hash differs from `previous` (or from earlier in the batch)."""
    changes = Changes()
    for record in records:
        record_id = str(record["Id"])
        digest = record_hash(record, watched)
        if changes.hashes.get(record_id, previous.get(record_id)) != digest:
            changes.changed.append(record)
            changes.hashes[record_id] = digest
    return changes
