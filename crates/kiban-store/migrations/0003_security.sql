-- Migration 0003: the security core (issue 6). Portable SQL (SQLite and PostgreSQL).
--
-- users: one row per account. Only the argon2id hash of a password is stored; the TOTP secret is stored
-- sealed under a key derived from the operator's master key, so a copy of the database alone cannot
-- produce codes. Account state (failures, lock) changes in place; every change is also in the audit log.
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    roles TEXT NOT NULL,
    password_hash TEXT,
    password_class TEXT,
    password_changed_at TEXT,
    totp_sealed TEXT,
    totp_last_step BIGINT,
    enrollment_hash TEXT,
    enrollment_expires_at TEXT,
    failed_logins BIGINT NOT NULL,
    locked_at TEXT,
    locked_reason TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);

-- Recovery codes: SHA-256 of each single-use code.
CREATE TABLE recovery_codes (
    user_name TEXT NOT NULL REFERENCES users (name),
    idx BIGINT NOT NULL,
    code_hash TEXT NOT NULL,
    used_at TEXT,
    PRIMARY KEY (user_name, idx)
);

-- Sessions: SHA-256 of the token only; the token itself is shown once to the user who logged in.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name),
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    ended_at TEXT
);

-- What each user did, for the anomaly rules (Rule 6-4-ロ): action, outcome and how many records it read
-- or sent out. The audit log is the legal record; this is its index by user.
CREATE TABLE activity (
    id BIGINT PRIMARY KEY,
    user_name TEXT NOT NULL,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    n_rows BIGINT NOT NULL
);
CREATE INDEX activity_by_user ON activity (user_name, at);

-- Deletions (Act §20, Rule 19): what was deleted, when, which items, kept 3 years.
CREATE TABLE deletions (
    id BIGINT PRIMARY KEY,
    object TEXT NOT NULL UNIQUE,
    deleted_on TEXT NOT NULL,
    items TEXT NOT NULL,
    n_persons BIGINT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    retain_until TEXT NOT NULL
);
