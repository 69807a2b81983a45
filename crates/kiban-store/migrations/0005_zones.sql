-- Migration 0005: what the intake and release zones need. Portable SQL.
--
-- A provider's upload credential for the intake zone: only its SHA-256 is kept. The newest row of a
-- provider is the one in force; a row without a hash revokes the provider's credential. Append-only.
CREATE TABLE provider_credentials (
    id BIGINT PRIMARY KEY,
    provider_code TEXT NOT NULL REFERENCES providers (code),
    token_hash TEXT UNIQUE,
    issued_at TEXT NOT NULL,
    issued_by TEXT NOT NULL
);
CREATE INDEX provider_credentials_by_provider ON provider_credentials (provider_code, id);

-- A release handed over to a recipient's account: the checked handover copy the release zone serves to
-- that account only. Append-only.
CREATE TABLE release_handovers (
    id BIGINT PRIMARY KEY,
    release_id TEXT NOT NULL,
    recipient_user TEXT NOT NULL REFERENCES users (name),
    dir TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX release_handovers_by_recipient ON release_handovers (recipient_user, id);

-- The linkage review queue (名寄せの確認): the pairs of provider-local patients the latest linkage run
-- could not decide, by an opaque pair ID; replaced by each run (it is derived from the vault).
CREATE TABLE link_review_queue (
    pair_id TEXT PRIMARY KEY,
    a_provider TEXT NOT NULL,
    a_local_id TEXT NOT NULL,
    b_provider TEXT NOT NULL,
    b_local_id TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    agreement TEXT NOT NULL,
    reason TEXT NOT NULL
);

-- Decisions on review pairs (same person or not), each with its reason and who decided. The latest
-- decision on a pair holds; later linkage runs apply it. Append-only.
CREATE TABLE link_review_decisions (
    id BIGINT PRIMARY KEY,
    pair_id TEXT NOT NULL,
    a_provider TEXT NOT NULL,
    a_local_id TEXT NOT NULL,
    b_provider TEXT NOT NULL,
    b_local_id TEXT NOT NULL,
    same_person BIGINT NOT NULL,
    reason TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL
);
