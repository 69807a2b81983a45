-- Migration 0004: release IDs reserved before any work starts, and each release's lifecycle. Portable SQL.
--
-- A release's number (and so its ID, R0001, ...) is taken in one writing transaction before processing
-- begins, so two concurrent releases can never get the same ID or share a staging folder.
CREATE TABLE release_reservations (
    release_number BIGINT PRIMARY KEY,
    release_id TEXT NOT NULL UNIQUE,
    reserved_by TEXT NOT NULL,
    reserved_at TEXT NOT NULL
);

-- Every state a release enters, in order: staged (reserved, files being written), published (ledger line
-- recorded, folder published), exported (a handover copy made), failed (processing or writing failed;
-- nothing was published). The current state is the latest row. Append-only.
CREATE TABLE release_states (
    id BIGINT PRIMARY KEY,
    release_id TEXT NOT NULL REFERENCES release_reservations (release_id),
    state TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX release_states_by_release ON release_states (release_id, id);
