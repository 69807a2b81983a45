-- Migration 0002: opt-out requests (提供停止の求め, Rules 27, 31, 32), the count of persons an intake left
-- out because of them, and the public-database linkage material (Rule 28 of the Guideline).
--
-- Portable SQL, as 0001. The append-only triggers for the opt-out records are in
-- migrations/sqlite/0002_append_only.sql.

-- Persons of a batch left out at intake because they match an opt-out request (a count, never who).
ALTER TABLE receipts ADD COLUMN n_persons_excluded BIGINT NOT NULL DEFAULT 0;

-- One opt-out request with the items of Rule 31 and the written notice (書面) kept for it. The notice
-- file lives at notice_path (relative to the data directory) with the given SHA-256, and is kept until
-- retain_until (3 years from the day it was given, Rule 32).
CREATE TABLE optout_requests (
    request_id TEXT PRIMARY KEY,
    request_number BIGINT NOT NULL UNIQUE,
    -- 'person' (本人) or 'bereaved_family' (遺族).
    requester_kind TEXT NOT NULL CHECK (requester_kind IN ('person', 'bereaved_family')),
    -- Identified data (Rule 31 item 2): the requester's name and, for a bereaved family, the relationship.
    requester_name TEXT NOT NULL,
    requester_relationship TEXT,
    received_on TEXT NOT NULL,
    stop_on TEXT NOT NULL,
    notice_given_on TEXT NOT NULL,
    notice_path TEXT NOT NULL,
    notice_sha256 TEXT NOT NULL,
    retain_until TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);

-- Who the request is about, as given, to match records (identified data, like the vault).
CREATE TABLE optout_subjects (
    request_id TEXT PRIMARY KEY REFERENCES optout_requests (request_id),
    name_kana TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    -- HL7 code: M, F, O, U.
    sex TEXT NOT NULL,
    provider TEXT,
    local_id TEXT,
    insurer_number TEXT
);

-- One export of linkage material: which opaque row ID stands for which person. The file itself holds
-- only row IDs and one-way hashes.
CREATE TABLE linkage_exports (
    export_id TEXT PRIMARY KEY,
    export_number BIGINT NOT NULL UNIQUE,
    algorithm TEXT NOT NULL,
    n_rows BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE linkage_export_rows (
    row_id TEXT PRIMARY KEY,
    export_id TEXT NOT NULL REFERENCES linkage_exports (export_id),
    person_id TEXT NOT NULL
);
CREATE INDEX linkage_export_rows_export_id ON linkage_export_rows (export_id);

-- The provision ID (提供用ID) the public database returned for a person; a later import replaces it.
CREATE TABLE provision_ids (
    person_id TEXT PRIMARY KEY,
    provision_id TEXT NOT NULL,
    row_id TEXT NOT NULL REFERENCES linkage_export_rows (row_id),
    imported_at TEXT NOT NULL
);
