-- Migration 0001, PostgreSQL part: make the legal records append-only, as
-- migrations/sqlite/0001_append_only.sql does on SQLite.
--
-- Any UPDATE or DELETE of these rows aborts, and so does TRUNCATE (which skips row triggers). A database
-- superuser or the tables' owner can still drop these triggers: that is why the audit log is also
-- hash-chained (kiban-audit), and why signed checkpoints of the chain head come later. Purging receipts and
-- ledger rows after retain_until will be its own audited operation.

CREATE FUNCTION kiban_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();

CREATE TRIGGER receipts_append_only BEFORE UPDATE OR DELETE ON receipts
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER receipts_no_truncate BEFORE TRUNCATE ON receipts
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();

CREATE TRIGGER receipt_items_append_only BEFORE UPDATE OR DELETE ON receipt_items
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER receipt_items_no_truncate BEFORE TRUNCATE ON receipt_items
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();

CREATE TRIGGER receipt_record_counts_append_only BEFORE UPDATE OR DELETE ON receipt_record_counts
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER receipt_record_counts_no_truncate BEFORE TRUNCATE ON receipt_record_counts
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();

CREATE TRIGGER quarantine_append_only BEFORE UPDATE OR DELETE ON quarantine
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER quarantine_no_truncate BEFORE TRUNCATE ON quarantine
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();

CREATE TRIGGER releases_append_only BEFORE UPDATE OR DELETE ON releases
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER releases_no_truncate BEFORE TRUNCATE ON releases
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();

CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();

CREATE TRIGGER ledger_items_append_only BEFORE UPDATE OR DELETE ON ledger_items
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER ledger_items_no_truncate BEFORE TRUNCATE ON ledger_items
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();
