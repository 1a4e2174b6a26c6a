"""The ledger's migrations since tombstones (see `migrations.py` for the runner and the order).

Every table from here on that names a contact gets a trigger refusing rows for a tombstoned contact
(`_refuse_erased`), so an erased contact cannot come back through any later writer.
"""

from __future__ import annotations

# Tables whose rows name a contact, and the column that names it: a tombstone refuses new rows in each.
_NAMING_A_CONTACT = (
    ("events", "contact_id"),
    ("dirty", "contact_id"),
    ("contact_state", "contact_id"),
    ("org_details", "contact_id"),
    ("record_hashes", "record_id"),  # the contacts source's rows are keyed by the contact's id
    ("dead_letters", "contact_id"),
    ("pixel_visitors", "contact_id"),
    ("pixel_pending", "contact_id"),
    ("web_pending", "contact_id"),
    ("org_children", "contact_id"),
    ("contact_consent", "contact_id"),
    ("org_written", "contact_id"),
)


def _refuse_erased(table: str, column: str) -> str:
    return f"""
        CREATE TRIGGER {table}_refuse_erased BEFORE INSERT ON {table}
        WHEN new.{column} IN (SELECT contact_id FROM tombstones)
        BEGIN
            SELECT RAISE(IGNORE);
        END;"""


def tombstones() -> str:
    """Erased contacts, kept for good, and triggers that refuse any new row naming one of them."""
    # The tombstone keeps the bare Salesforce id: it is what every entry must match to refuse a
    # record, and it says nothing about the person once everything else about them is gone. A
    # trigger per table makes the refusal hold for every writer, present and future, in one place.
    refuse = "".join(_refuse_erased(table, column) for table, column in _NAMING_A_CONTACT)
    return f"""
        CREATE TABLE tombstones (
            contact_id TEXT PRIMARY KEY,
            erased_at TEXT NOT NULL,       -- ISO UTC: the job's `now` when it was erased
            reason TEXT NOT NULL           -- deleted, anonymised, manual
        ) WITHOUT ROWID;
        {refuse}
    """


def consent_evidence() -> str:
    """Each change of a contact's tracking consent, kept as evidence, and withdrawals the org still owes."""
    # Evidence is the answer, not the behaviour: who, what, when and from where. A withdrawn contact
    # waits in `web_withdrawn` until the org confirmed its visit and job-view records deleted.
    return """
        CREATE TABLE consent_changes (
            id INTEGER PRIMARY KEY,
            contact_id TEXT NOT NULL,
            consent INTEGER NOT NULL,
            changed_at INTEGER NOT NULL,   -- microseconds since the Unix epoch: the answer's own time
            source TEXT NOT NULL,          -- the org source (or `ingest`) that brought it
            recorded_at TEXT NOT NULL      -- ISO UTC: the job's `now` when the ledger took it
        );
        CREATE INDEX consent_changes_contact ON consent_changes (contact_id);
        CREATE TABLE web_withdrawn (contact_id TEXT PRIMARY KEY) WITHOUT ROWID;
    """ + "".join(_refuse_erased(table, "contact_id") for table in ("consent_changes", "web_withdrawn"))


def erasure_in_org() -> str:
    """What an erasure still owes the org, kept on the tombstone, and the audit of requested erasures."""
    # On the tombstone, not in a table of its own: no other row may name an erased contact. The
    # audit row names no contact either; the tombstone points to it.
    return """
        ALTER TABLE tombstones ADD COLUMN org_cleared_at TEXT;            -- NULL: org records may remain
        ALTER TABLE tombstones ADD COLUMN org_error TEXT NOT NULL DEFAULT '';  -- the org's last refusal
        ALTER TABLE tombstones ADD COLUMN audit_id INTEGER;               -- the request, when manual
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,              -- ISO UTC
            who TEXT NOT NULL,
            action TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '{}'
        );
    """


def merges() -> str:
    """A merged contact's tombstone names the survivor and keeps the keys of the loser's org records."""
    # A merge loser is tombstoned like an erasure (no row may name it again), but its history moved to
    # the survivor. What the org may still hold keyed to the loser stays on the tombstone, the one row
    # allowed to name it, until those records are deleted.
    return """
        ALTER TABLE tombstones ADD COLUMN merged_into TEXT;               -- the survivor of a merge
        ALTER TABLE tombstones ADD COLUMN org_keys TEXT NOT NULL DEFAULT '[]';  -- JSON: external ids
    """


def org_event_ids() -> str:
    """Org event ids without the contact: re-key the stored ones that provably have the old form."""
    # `rekey_org_event` (registered by `migrate`) gives an event its new id when its stored id is the
    # old hash of (source, record id, contact, kind, time) for a source the ledger has a cursor of and
    # a record id among its attributes; any other event keeps its id.
    return """
        UPDATE OR IGNORE events SET id = rekey_org_event(contact_id, id, kind, at, attrs)
        WHERE kind != 'contact.updated' AND kind NOT LIKE 'web.%';
    """


def bulk_jobs() -> str:
    """Bulk 2.0 jobs a cycle left running, and their writes, until a later cycle collects them."""
    return """
        CREATE TABLE bulk_jobs (
            job_id TEXT PRIMARY KEY,
            object TEXT NOT NULL,
            key_field TEXT NOT NULL,
            started_at TEXT NOT NULL       -- ISO UTC: the `now` of the cycle that sent it
        ) WITHOUT ROWID;
        CREATE TABLE bulk_job_writes (
            job_id TEXT NOT NULL,
            key_value TEXT NOT NULL,       -- the record key (Id or external id) the job writes
            contact_id TEXT NOT NULL,      -- the contact the write belongs to
            payload TEXT NOT NULL,         -- JSON: the field values sent
            confirm TEXT NOT NULL,         -- JSON: what to record once the org accepted it
            PRIMARY KEY (job_id, key_value)
        ) WITHOUT ROWID;
        CREATE INDEX bulk_job_writes_contact ON bulk_job_writes (contact_id);
    """ + _refuse_erased("bulk_job_writes", "contact_id")


def contact_history() -> str:
    """What each contact showed after each nightly pass: a row when it changed, and the passes."""
    # One row per contact and pass would grow by the whole population every night; a row when score,
    # band or medal changed, with the list of passes, gives the same history (the latest row at or
    # before a pass is what the contact showed after it).
    return f"""
        CREATE TABLE score_passes (at TEXT PRIMARY KEY) WITHOUT ROWID;  -- ISO UTC: the pass's now
        CREATE TABLE contact_history (
            contact_id TEXT NOT NULL,
            at TEXT NOT NULL,              -- the pass after which the contact showed this
            score INTEGER,
            band TEXT,
            medal TEXT,
            PRIMARY KEY (contact_id, at)
        ) WITHOUT ROWID;
        {_refuse_erased("contact_history", "contact_id")}
    """


def pixel_day_visits() -> str:
    """Visits counted against a contact's caps of a UTC day (`day`: its first hit's, YYYY-MM-DD)."""
    cols = "day TEXT NOT NULL, visit_id TEXT NOT NULL, contact_id TEXT NOT NULL, visitor_id TEXT NOT NULL"
    table = f"CREATE TABLE pixel_day_visits ({cols}, PRIMARY KEY (day, visit_id)) WITHOUT ROWID;"
    return table + _refuse_erased("pixel_day_visits", "contact_id")
