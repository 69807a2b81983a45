-- Migration 0001: the operational schema.
--
-- Portable SQL: it runs unchanged on SQLite and PostgreSQL. Types are TEXT and BIGINT only; ids are
-- assigned by kiban-store inside the writing transaction (no AUTOINCREMENT / SERIAL).
-- Dates are ISO 8601 TEXT ('2024-04-01'); timestamps are RFC 3339 UTC TEXT with nanoseconds
-- ('2024-04-01T09:00:00.000000000Z'), so text order is time order.
-- Backend-specific parts (the append-only triggers) live in migrations/{backend}/0001_*.sql.

-- Providers that gave notice (Rule 36). A provider's data is accepted only once published_on is set.
CREATE TABLE providers (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    notified_on TEXT NOT NULL,
    published_on TEXT
);

-- One intake run of one provider's extract, identified by the extract's fingerprint.
CREATE TABLE batches (
    id BIGINT PRIMARY KEY,
    provider TEXT NOT NULL REFERENCES providers (code),
    fingerprint TEXT NOT NULL,
    format TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('receiving', 'complete')),
    started_at TEXT NOT NULL,
    completed_at TEXT,
    UNIQUE (provider, fingerprint)
);

-- The record of receipt (Rule 37), one per completed batch; kept until retain_until (Rule 35 via 38).
CREATE TABLE receipts (
    batch_id BIGINT PRIMARY KEY REFERENCES batches (id),
    received_on TEXT NOT NULL,
    provider TEXT NOT NULL REFERENCES providers (code),
    provider_name TEXT NOT NULL,
    provider_address TEXT NOT NULL,
    notified_on TEXT NOT NULL,
    published_on TEXT NOT NULL,
    n_persons BIGINT NOT NULL,
    retain_until TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);

-- The data items received (e.g. 氏名, 生年月日, 病名), in the order given.
CREATE TABLE receipt_items (
    batch_id BIGINT NOT NULL REFERENCES receipts (batch_id),
    item_idx BIGINT NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (batch_id, item_idx)
);

-- How many records of each kind (encounters, labs, ...) the batch held.
CREATE TABLE receipt_record_counts (
    batch_id BIGINT NOT NULL REFERENCES receipts (batch_id),
    kind TEXT NOT NULL,
    n_records BIGINT NOT NULL,
    PRIMARY KEY (batch_id, kind)
);

-- Input files set aside with a reason (never patient data in the reason).
CREATE TABLE quarantine (
    batch_id BIGINT NOT NULL REFERENCES batches (id),
    item_idx BIGINT NOT NULL,
    path TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (batch_id, item_idx)
);

-- The result of linkage (名寄せ): which person each provider-local patient is.
CREATE TABLE person_links (
    provider TEXT NOT NULL,
    local_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    PRIMARY KEY (provider, local_id)
);
CREATE INDEX person_links_person_id ON person_links (person_id);

-- Every dataset released to a recipient.
CREATE TABLE releases (
    release_id TEXT PRIMARY KEY,
    release_number BIGINT NOT NULL UNIQUE,
    recipient_name TEXT NOT NULL,
    recipient_address TEXT NOT NULL,
    provided_on TEXT NOT NULL,
    mode TEXT NOT NULL,
    n_persons BIGINT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- The ledger (帳簿, Rule 12). kind is 'provision' for now; deletions and transfers come later.
CREATE TABLE ledger (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    release_id TEXT REFERENCES releases (release_id),
    recipient_name TEXT NOT NULL,
    recipient_address TEXT NOT NULL,
    provided_on TEXT NOT NULL,
    n_persons BIGINT NOT NULL,
    retain_until TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);

CREATE TABLE ledger_items (
    ledger_id BIGINT NOT NULL REFERENCES ledger (id),
    item_idx BIGINT NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (ledger_id, item_idx)
);

-- The hash-chained audit log (see kiban-audit). Append-only.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
