-- Migration 0002, PostgreSQL part: opt-out requests and their subjects are legal records (Rules 31, 32):
-- append-only, like the receipts. The linkage export rows are append-only too, so a row ID always names
-- the person it named when the file left. Same rules as migrations/sqlite/0002_append_only.sql; the
-- trigger function is migration 0001's.

CREATE TRIGGER optout_requests_append_only BEFORE UPDATE OR DELETE ON optout_requests
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER optout_requests_no_truncate BEFORE TRUNCATE ON optout_requests
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();

CREATE TRIGGER optout_subjects_append_only BEFORE UPDATE OR DELETE ON optout_subjects
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER optout_subjects_no_truncate BEFORE TRUNCATE ON optout_subjects
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();

CREATE TRIGGER linkage_export_rows_append_only BEFORE UPDATE OR DELETE ON linkage_export_rows
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER linkage_export_rows_no_truncate BEFORE TRUNCATE ON linkage_export_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();
