-- Migration 0004, PostgreSQL part: reservations and lifecycle states of releases are append-only. Same
-- rules as migrations/sqlite/0004_append_only.sql; the trigger function is migration 0001's.

CREATE TRIGGER release_reservations_append_only BEFORE UPDATE OR DELETE ON release_reservations
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER release_reservations_no_truncate BEFORE TRUNCATE ON release_reservations
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER release_states_append_only BEFORE UPDATE OR DELETE ON release_states
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER release_states_no_truncate BEFORE TRUNCATE ON release_states
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();
