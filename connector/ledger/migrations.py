"""Schema changes, only through named migrations applied once each, each in its own transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from connector.ledger.guarded_migrations import (
    bulk_jobs,
    consent_evidence,
    contact_history,
    erasure_in_org,
    merges,
    org_event_ids,
    pixel_day_visits,
    tombstones,
)
from connector.ledger.rekey import org_sources, rekeyer


def initial() -> str:
    # Events are clustered by contact so a full re-score is one ordered scan; (contact_id, id) as key
    # makes appends idempotent by event id without a second index. Order within a contact is by `at`,
    # which the scorer sorts anyway (a contact has tens of events, not millions).
    return """
        CREATE TABLE events (
            contact_id TEXT NOT NULL,
            id TEXT NOT NULL,
            kind TEXT NOT NULL,
            at INTEGER NOT NULL,          -- microseconds since the Unix epoch, UTC
            attrs TEXT NOT NULL,          -- JSON object
            PRIMARY KEY (contact_id, id)
        ) WITHOUT ROWID;
        -- Contacts whose events changed since their last re-score (filled by the trigger, so a
        -- duplicate that was ignored marks nothing).
        CREATE TABLE dirty (contact_id TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TRIGGER events_mark_dirty AFTER INSERT ON events
        BEGIN
            INSERT OR IGNORE INTO dirty (contact_id) VALUES (new.contact_id);
        END;
        CREATE TABLE contact_state (
            contact_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            score INTEGER,
            band TEXT,
            medal TEXT,
            first_qualified_on TEXT,
            first_placed_on TEXT,
            last_activity_on TEXT,
            lines TEXT NOT NULL DEFAULT '{}',  -- JSON: rule name -> points now
            scored_at TEXT NOT NULL
        );
        CREATE TABLE cursors (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """


def sync_tables() -> str:
    """What the org shows, change-detection hashes, dead letters and the cycle log (the sync daemon)."""
    return """
        -- The recruitment details the org last showed or confirmed, per contact: the diff base for writes.
        CREATE TABLE org_details (
            contact_id TEXT PRIMARY KEY,
            score INTEGER,
            band TEXT,
            medal TEXT,
            first_qualified_on TEXT,
            first_placed_on TEXT,
            lines TEXT NOT NULL DEFAULT '{}',  -- JSON: rule name -> points the org's score line shows
            confirmed_at TEXT NOT NULL
        );
        -- Hash of a record's watched fields, so SystemModstamp noise and our own writes give no events.
        CREATE TABLE record_hashes (
            source TEXT NOT NULL,
            record_id TEXT NOT NULL,
            hash TEXT NOT NULL,
            PRIMARY KEY (source, record_id)
        ) WITHOUT ROWID;
        CREATE TABLE dead_letters (
            id INTEGER PRIMARY KEY,
            contact_id TEXT NOT NULL,
            object TEXT NOT NULL,
            key_field TEXT NOT NULL,
            key_value TEXT NOT NULL,
            payload TEXT NOT NULL,            -- JSON of the absolute values that were refused
            error_code TEXT NOT NULL,
            message TEXT NOT NULL,
            failed_at TEXT NOT NULL
        );
        CREATE INDEX dead_letters_contact ON dead_letters (contact_id);
        CREATE TABLE cycles (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,               -- poll, daily, backfill
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,             -- running, ok, stopped, failed
            summary TEXT NOT NULL DEFAULT '{}'
        );
    """


def website_pixel_state() -> str:
    """SQL of the pixel state tables (a migration)."""
    # `read_to`, not `offset`: OFFSET is an SQL keyword. Visitor rows hold only consented contacts'
    # links and the ids of shared visitors; pending rows hold no address, agent or token.
    return """
        CREATE TABLE pixel_files (
            key TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            read_to INTEGER NOT NULL,
            head TEXT NOT NULL,
            head_len INTEGER NOT NULL
        );
        CREATE TABLE pixel_visitors (
            visitor_id TEXT PRIMARY KEY,
            contact_id TEXT,              -- NULL when shared
            shared INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        CREATE TABLE pixel_pending (
            id TEXT PRIMARY KEY,
            contact_id TEXT NOT NULL,     -- '' while the visitor is unknown
            visitor_id TEXT NOT NULL,
            at INTEGER NOT NULL,          -- microseconds since the Unix epoch, UTC
            url TEXT NOT NULL,
            referrer TEXT NOT NULL
        ) WITHOUT ROWID;
    """


def web_write_back() -> str:
    """Website visits and job views going to the org: which contacts wait, what the org confirmed."""
    return """
        -- Contacts with new web events whose visit / job-view records are not yet in the org.
        CREATE TABLE web_pending (contact_id TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TRIGGER events_mark_web_pending AFTER INSERT ON events
        WHEN new.kind IN ('web.visit', 'web.job_view')
        BEGIN
            INSERT OR IGNORE INTO web_pending (contact_id) VALUES (new.contact_id);
        END;
        -- A hash of each child record's values as the org last accepted them, by external id.
        CREATE TABLE org_children (
            external_id TEXT PRIMARY KEY,
            contact_id TEXT NOT NULL,
            hash TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX org_children_contact ON org_children (contact_id);
    """


def job_numbers() -> str:
    """Vacancy numbers as the website shows them, to the vacancy's record id (pixel URL patterns)."""
    return """
        CREATE TABLE job_numbers (number TEXT PRIMARY KEY, job_id TEXT NOT NULL) WITHOUT ROWID;
    """


def pixel_pending_indexes() -> str:
    """Pending hits found by visitor, by age and by open visit, so a run touches only its own."""
    # A live site keeps ~30 days of anonymous hits waiting for their visitor: a run loads the rows
    # of the visitors it saw and of visits still open, and deletes the anonymous rows that aged out.
    return """
        CREATE INDEX pixel_pending_visitor ON pixel_pending (visitor_id);
        CREATE INDEX pixel_pending_anonymous_at ON pixel_pending (at) WHERE contact_id = '';
        CREATE INDEX pixel_pending_open ON pixel_pending (contact_id) WHERE contact_id != '';
    """


def contact_consent() -> str:
    """Each contact's latest tracking consent, kept by a trigger, so a pixel run needs no event scan."""
    # The latest `contact.updated` event that says true or false wins, by (at, id) as before; the
    # table is filled from the events already there, then kept by the trigger on real inserts.
    return """
        CREATE TABLE contact_consent (
            contact_id TEXT PRIMARY KEY,
            at INTEGER NOT NULL,
            event_id TEXT NOT NULL,
            consent INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO contact_consent (contact_id, at, event_id, consent)
        SELECT contact_id, at, id, answer = 'true' FROM (
            SELECT contact_id, at, id, json_type(attrs, '$.tracking_consent') AS answer,
                   row_number() OVER (PARTITION BY contact_id ORDER BY at DESC, id DESC) AS latest
            FROM events
            WHERE kind = 'contact.updated' AND json_type(attrs, '$.tracking_consent') IN ('true', 'false')
        ) WHERE latest = 1;
        CREATE TRIGGER events_keep_consent AFTER INSERT ON events
        WHEN new.kind = 'contact.updated'
            AND json_type(new.attrs, '$.tracking_consent') IN ('true', 'false')
        BEGIN
            INSERT INTO contact_consent (contact_id, at, event_id, consent)
            VALUES (
                new.contact_id, new.at, new.id, json_type(new.attrs, '$.tracking_consent') = 'true'
            )
            ON CONFLICT (contact_id) DO UPDATE
            SET at = excluded.at, event_id = excluded.event_id, consent = excluded.consent
            WHERE (excluded.at, excluded.event_id) > (contact_consent.at, contact_consent.event_id);
        END;
    """


def written_versions() -> str:
    """When each record the org accepted from the connector was written, so older reads are ignored."""
    # Under commit lag a query can still show the version from before our write; keyed like the
    # writes (a contact by Id, a child record by external id), with the contact for erasure.
    return """
        CREATE TABLE org_written (
            object TEXT NOT NULL,
            record_key TEXT NOT NULL,
            contact_id TEXT NOT NULL,
            written_at TEXT NOT NULL,      -- ISO UTC: the start of the cycle whose write was accepted
            PRIMARY KEY (object, record_key)
        ) WITHOUT ROWID;
        CREATE INDEX org_written_contact ON org_written (contact_id);
    """


def rule_sets() -> str:
    # One row per rule set the connector applied: the audit `status` shows, and the text of the rules
    # in force, so a cycle that holds a rule change back can go on scoring under the applied ones.
    return """
        CREATE TABLE rule_sets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            fingerprint TEXT NOT NULL,
            rules TEXT NOT NULL,           -- canonical JSON of [scoring] and [medals]
            applied_at TEXT NOT NULL,      -- ISO UTC: the cycle's now
            contacts_changed INTEGER NOT NULL,
            forced INTEGER NOT NULL        -- 1 when --force applied it above max_change_share
        );
    """


def contact_insight() -> str:
    """The trend flag, the last engagement (date, rule) and the explanation, beside the other details,
    stored and shown."""
    # A pass after this migration re-scores nothing by itself: the rows get the values at the next
    # re-score of each contact, and the plan writes them then (or at the nightly pass).
    return "\n".join(
        f"ALTER TABLE {table} ADD COLUMN {column};"
        for table in ("contact_state", "org_details")
        for column in (
            "heating_up INTEGER NOT NULL DEFAULT 0",
            "last_engaged_on TEXT",
            "last_engaged_by TEXT",
            "explanation TEXT",
        )
    )


# Each migration is a named function returning its SQL; the list order is the apply order.
MIGRATIONS: list[Callable[[], str]] = [
    initial,
    sync_tables,
    website_pixel_state,
    web_write_back,
    job_numbers,
    pixel_pending_indexes,
    contact_consent,
    written_versions,
    rule_sets,
    tombstones,
    consent_evidence,
    erasure_in_org,
    merges,
    org_event_ids,
    bulk_jobs,
    contact_history,
    pixel_day_visits,
    contact_insight,
]


def migrate(db: sqlite_utils.Database, migrations: list[Callable[[], str]] = MIGRATIONS) -> list[str]:
    """Apply the migrations not applied yet, in order, each in one transaction; return their names."""
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM migrations").fetchall()}
    applied: list[str] = []
    db.conn.create_function("rekey_org_event", 5, rekeyer(org_sources(db)), deterministic=True)
    for migration in migrations:
        name = migration.__name__
        if name in done:
            continue
        stamp = datetime.now(UTC).isoformat()
        # executescript commits whatever is pending first, so the transaction is spelled out inside the
        # script: the schema change and its bookkeeping row land together or not at all.
        script = f"BEGIN;\n{migration()};\nINSERT INTO migrations VALUES ('{name}', '{stamp}');\nCOMMIT;"
        try:
            db.conn.executescript(script)
        except sqlite3.Error:
            if db.conn.in_transaction:
                db.conn.rollback()
            raise
        applied.append(name)
    return applied
