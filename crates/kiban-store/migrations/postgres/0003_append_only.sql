-- Migration 0003, PostgreSQL part: deletion records (Rule 19) are legal records, append-only. Same rules
-- as migrations/sqlite/0003_append_only.sql; the trigger function is migration 0001's.

CREATE TRIGGER deletions_append_only BEFORE UPDATE OR DELETE ON deletions
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER deletions_no_truncate BEFORE TRUNCATE ON deletions
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();
