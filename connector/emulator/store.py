"""The org's records: validated writes, timestamps, field history, commit lag, JSON persistence.

Rows are plain dicts keyed by canonical field name and are never mutated in place: every write puts
a new dict, so an older version can stay visible to queries (commit lag) or be restored (allOrNone
rollback) by keeping a reference to it.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connector.emulator.schema import ObjectDef, history_parent_field
from connector.emulator.values import Clock, IdMaker, RecordError, coerce, from_json, normalise_id, to_json
from connector.emulator.values import truncate as truncate_time
from connector.paths import write_private

Row = dict[str, Any]
WriteHook = Callable[[str, "str | None"], "RecordError | None"]
STATE_VERSION = 1


class Store:
    """All records of the emulated org, with the write rules of a real one."""

    def __init__(self, schema: dict[str, ObjectDef], clock: Clock, ids: IdMaker | None = None) -> None:
        self.schema = schema
        self.clock = clock
        self.ids = ids or IdMaker()
        self.rows: dict[str, dict[str, Row]] = {name: {} for name in schema}
        self.unique: dict[tuple[str, str], dict[str, str]] = {}
        self.by_prefix = {o.key_prefix: o.name for o in schema.values() if o.key_prefix != "017"}
        # (object, id) -> (visible from, the version queries see until then; None = not yet visible)
        self.shadow: dict[tuple[str, str], tuple[datetime, Row | None]] = {}
        self.commit_lag = 0.0
        self.write_hook: WriteHook | None = None
        self.writes: Counter[str] = Counter()  # record id -> writes applied (create, update, delete)
        self.lock = threading.RLock()
        self.dirty = False
        self._journal: list[tuple[str, str, Row | None, tuple[datetime, Row | None] | None]] | None = None

    # ----- reads -------------------------------------------------------------------------------------
    def obj(self, name: str) -> ObjectDef:
        """The object definition (KeyError for an unknown name)."""
        return self.schema[name]

    def get(self, obj: str, record_id: str) -> Row | None:
        """The current version of a record (deleted ones included), or None."""
        norm = normalise_id(record_id)
        return self.rows[obj].get(norm) if norm else None

    def find(self, record_id: str) -> tuple[str, Row] | None:
        """The object name and row for an id of any object, by its key prefix."""
        norm = normalise_id(record_id)
        name = self.by_prefix.get(record_id[:3]) if norm else None
        if name is None or norm is None:
            return None
        row = self.rows[name].get(norm)
        return (name, row) if row is not None else None

    def visible(self, obj: str) -> list[Row]:
        """The rows queries see now: a change under commit lag shows its earlier version."""
        rows = self.rows[obj]
        if not self.shadow:
            return list(rows.values())
        now = self.clock.now()
        self.shadow = {k: v for k, v in self.shadow.items() if v[0] > now}
        out: list[Row] = []
        for record_id, row in rows.items():
            held = self.shadow.get((obj, record_id))
            if held is None:
                out.append(row)
            elif held[1] is not None:
                out.append(held[1])
        return out

    def by_external_id(self, obj: str, field: str, value: str) -> str | None:
        """The id of the record whose unique field holds `value` (case-insensitive), or None."""
        return self.unique.get((obj, field), {}).get(str(value).lower())

    # ----- writes ------------------------------------------------------------------------------------
    def create(
        self, obj: str, values: Mapping[str, Any], *, from_csv: bool = False, at: datetime | None = None
    ) -> str:
        """Insert a record; RecordError when a value, a required field or a lookup is wrong."""
        odef = self.schema[obj]
        if not odef.createable:
            raise RecordError("INVALID_TYPE", f"sObject type '{obj}' does not allow creates")
        self._hook(obj, None)
        changes = self._prepare(odef, values, None, from_csv)
        when = truncate_time(at or self.clock.now())
        record_id = self.ids.new(odef.key_prefix)
        row: Row = {f: fd.default for f, fd in odef.fields.items()}
        row.update(changes)
        row.update(
            Id=record_id, IsDeleted=False, CreatedDate=when, LastModifiedDate=when, SystemModstamp=when
        )
        self._derive(odef, row)
        self._check_required(odef, row)
        self._check_unique(odef, row, record_id)
        self._put(obj, record_id, row)
        self.writes[record_id] += 1
        if odef.tracked:
            self._history(odef, record_id, "created", None, None, when)
        return record_id

    def update(
        self,
        obj: str,
        record_id: str,
        values: Mapping[str, Any],
        *,
        from_csv: bool = False,
        at: datetime | None = None,
        stamp: bool = True,
    ) -> None:
        """Change a record; an update moves LastModifiedDate and SystemModstamp, as in an org, unless
        `stamp` is false (a system update that leaves them, as tracking updates may)."""
        odef = self.schema[obj]
        old = self._existing(obj, record_id)
        self._hook(obj, old["Id"])
        changes = self._prepare(odef, values, old, from_csv)
        when = truncate_time(at or self.clock.now())
        row = {**old, **changes}
        if stamp:
            row.update(LastModifiedDate=when, SystemModstamp=when)
        self._derive(odef, row)
        self._check_required(odef, row)
        self._check_unique(odef, row, old["Id"])
        self._put(obj, old["Id"], row)
        self.writes[old["Id"]] += 1
        for name in odef.tracked:
            if old.get(name) != row.get(name):
                self._history(odef, old["Id"], name, old.get(name), row.get(name), when)

    def upsert(
        self, obj: str, ext_field: str, ext_value: Any, values: Mapping[str, Any], *, from_csv: bool = False
    ) -> tuple[str, bool]:
        """Create or update by external id; returns (id, created)."""
        odef = self.schema[obj]
        fdef = odef.field(ext_field)
        if fdef is None or not (fdef.external_id or fdef.name == "Id"):
            raise RecordError(
                "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {ext_field}"
            )
        if ext_value in (None, ""):
            raise RecordError("MISSING_ARGUMENT", f"{fdef.name} not specified", [fdef.name])
        rest = {k: v for k, v in values.items() if k.lower() != fdef.name.lower()}
        if fdef.name == "Id":
            found = normalise_id(str(ext_value))
            if found is None or found not in self.rows[obj]:
                raise RecordError("NOT_FOUND", f"Provided external ID not found: {ext_value}", ["Id"])
            self.update(obj, found, rest, from_csv=from_csv)
            return found, False
        existing = self.by_external_id(obj, fdef.name, str(ext_value))
        if existing is not None:
            self.update(obj, existing, rest, from_csv=from_csv)
            return existing, False
        return self.create(obj, {**rest, fdef.name: ext_value}, from_csv=from_csv), True

    def delete(self, obj: str, record_id: str, *, at: datetime | None = None) -> None:
        """Move a record to the recycle bin: only `queryAll` still sees it, with IsDeleted = true."""
        old = self._existing(obj, record_id)
        self._hook(obj, old["Id"])
        when = truncate_time(at or self.clock.now())
        row = {**old, "IsDeleted": True, "LastModifiedDate": when, "SystemModstamp": when}
        self._put(obj, old["Id"], row)
        self.writes[old["Id"]] += 1
        # As in an org, master-detail children go with their parent (lookups keep pointing at it).
        for child in self.schema.values():
            for f in child.fields.values():
                if f.master_detail and obj in f.reference_to:
                    for cid, crow in list(self.rows[child.name].items()):
                        if not crow["IsDeleted"] and normalise_id(str(crow.get(f.name))) == old["Id"]:
                            self.delete(child.name, cid, at=when)

    def insert_raw(self, obj: str, row: Row) -> None:
        """Put a fully formed row (bootstrap records, persistence); no validation."""
        self._put(obj, row["Id"], row)

    @contextmanager
    def batch(self) -> Iterator[Callable[[], None]]:
        """Journal writes so an allOrNone request can undo them; yields the rollback function."""
        self._journal = []

        def rollback() -> None:
            journal, self._journal = self._journal or [], None
            for obj, record_id, old, held in reversed(journal):
                self._restore(obj, record_id, old, held)

        try:
            yield rollback
        finally:
            self._journal = None

    # ----- internals ---------------------------------------------------------------------------------
    def _hook(self, obj: str, record_id: str | None) -> None:
        if self.write_hook is not None:
            failure = self.write_hook(obj, record_id)
            if failure is not None:
                raise failure

    def _existing(self, obj: str, record_id: str) -> Row:
        norm = normalise_id(str(record_id))
        if norm is None:
            raise RecordError("MALFORMED_ID", f"{obj} ID: id value of incorrect type: {record_id}", ["Id"])
        row = self.rows[obj].get(norm)
        if row is None:
            if self.find(norm) is not None or norm[:3] != self.schema[obj].key_prefix:
                raise RecordError(
                    "MALFORMED_ID", f"{obj} ID: id value of incorrect type: {record_id}", ["Id"]
                )
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if row["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
        return row

    def _prepare(self, odef: ObjectDef, values: Mapping[str, Any], old: Row | None, from_csv: bool) -> Row:
        changes: Row = {}
        for key, value in values.items():
            if key == "attributes":
                continue
            fdef = odef.field(key)
            if fdef is None:
                raise RecordError("INVALID_FIELD", f"No such column '{key}' on sobject of type {odef.name}")
            allowed = fdef.createable if old is None else fdef.updateable
            if not allowed:
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {fdef.name}. Please check the security settings of "
                    "this field and verify that it is read/write for your profile or permission set.",
                    [fdef.name],
                )
            coerced = coerce(fdef, value, from_csv=from_csv)
            if fdef.type == "reference" and coerced is not None:
                coerced = self._check_reference(odef, fdef.name, fdef.reference_to, fdef.label, coerced)
            changes[fdef.name] = coerced
        return changes

    def _check_reference(
        self, odef: ObjectDef, name: str, targets: tuple[str, ...], label: str, value: str
    ) -> str:
        norm = normalise_id(value)
        target = self.by_prefix.get(value[:3]) if norm else None
        if norm is None or target not in targets:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {value}", [name]
            )
        row = self.rows[target].get(norm)
        if row is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", f"{label}: invalid cross reference id", [name])
        if row.get("IsDeleted"):
            raise RecordError("ENTITY_IS_DELETED", f"{label}: entity is deleted", [name])
        return norm

    def _derive(self, odef: ObjectDef, row: Row) -> None:
        """Fields an org computes: Contact's Name, auto-number names."""
        name = odef.fields.get("Name")
        if odef.name in ("Contact", "User") and name is not None:
            row["Name"] = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
        elif name is not None and not name.createable and not row.get("Name"):
            initials = "".join(w[0] for w in odef.label.split())
            row["Name"] = f"{initials}-{len(self.rows[odef.name]) + 1:06d}"

    def _check_required(self, odef: ObjectDef, row: Row) -> None:
        missing = [f.name for f in odef.fields.values() if f.required and row.get(f.name) in (None, "")]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )

    def _check_unique(self, odef: ObjectDef, row: Row, record_id: str) -> None:
        for fdef in odef.fields.values():
            value = row.get(fdef.name)
            if not fdef.unique or value is None:
                continue
            holder = self.by_external_id(odef.name, fdef.name, value)
            if holder is not None and holder != record_id:
                raise RecordError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {fdef.name} duplicates value on record with id: {holder}",
                    [fdef.name],
                )

    def _history(
        self, odef: ObjectDef, parent_id: str, field: str, old: Any, new: Any, when: datetime
    ) -> None:
        hdef = self.schema[odef.history_name]
        hid = self.ids.new(hdef.key_prefix)
        row = {
            "Id": hid, "IsDeleted": False, history_parent_field(hdef): parent_id, "Field": field,
            "OldValue": to_json(old), "NewValue": to_json(new), "CreatedDate": when,
        }  # fmt: skip
        self._put(hdef.name, hid, row)

    def _put(self, obj: str, record_id: str, row: Row) -> None:
        old = self.rows[obj].get(record_id)
        key = (obj, record_id)
        held = self.shadow.get(key)
        if self._journal is not None:
            self._journal.append((obj, record_id, old, held))
        if self.commit_lag > 0:
            until = self.clock.now() + timedelta(seconds=self.commit_lag)
            self.shadow[key] = (until, held[1] if held is not None else old)
        self._index(obj, old, remove=True)
        self.rows[obj][record_id] = row
        self._index(obj, row, remove=False)
        self.dirty = True

    def _restore(
        self, obj: str, record_id: str, old: Row | None, held: tuple[datetime, Row | None] | None
    ) -> None:
        current = self.rows[obj].get(record_id)
        self._index(obj, current, remove=True)
        if old is None:
            self.rows[obj].pop(record_id, None)
        else:
            self.rows[obj][record_id] = old
            self._index(obj, old, remove=False)
        if held is None:
            self.shadow.pop((obj, record_id), None)
        else:
            self.shadow[(obj, record_id)] = held

    def _index(self, obj: str, row: Row | None, *, remove: bool) -> None:
        # A record in the recycle bin holds no unique value: an upsert by its external id creates a
        # new record, as in an org, instead of failing on the deleted one.
        if row is None or (row.get("IsDeleted") and not remove):
            return
        for fdef in self.schema[obj].fields.values():
            value = row.get(fdef.name)
            if fdef.unique and value is not None:
                index = self.unique.setdefault((obj, fdef.name), {})
                key = str(value).lower()
                if not remove:
                    index[key] = row["Id"]
                elif index.get(key) == row["Id"]:  # a newer record may hold the value by now
                    del index[key]

    # ----- persistence -------------------------------------------------------------------------------
    def dump(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The whole org as JSON-ready data (typed values in their REST form)."""
        rows = {
            obj: [{k: to_json(v) for k, v in row.items()} for row in table.values()]
            for obj, table in self.rows.items()
        }
        return {"version": STATE_VERSION, "ids": self.ids.counters, "rows": rows, **(extra or {})}

    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the org's records with a `dump()`."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported emulator state version: {data.get('version')!r}")
        self.ids.counters = dict(data["ids"])
        self.rows = {name: {} for name in self.schema}
        self.unique = {}
        for obj, rows in data["rows"].items():
            odef = self.schema.get(obj)
            if odef is None:
                continue  # an object the current mapping no longer has
            for raw in rows:
                row = {k: from_json(odef.fields[k], v) for k, v in raw.items() if k in odef.fields}
                self.insert_raw(obj, row)
        self.dirty = False

    def save(self, path: Path, extra: Mapping[str, Any] | None = None) -> None:
        """Write the org to `path` atomically (write a sibling, then rename)."""
        with self.lock:
            blob = json.dumps(self.dump(extra), separators=(",", ":"))
            self.dirty = False
        tmp = path.with_name(path.name + ".tmp")
        write_private(tmp, blob)  # the org's state holds its client secret: 0600 from the first byte
        os.replace(tmp, path)
