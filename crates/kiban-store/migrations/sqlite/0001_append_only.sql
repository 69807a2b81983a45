-- Migration 0001, SQLite part: make the legal records append-only.
--
-- Any UPDATE or DELETE of these rows aborts. A database superuser (anyone who can write the file) can
-- still drop these triggers: that is why the audit log is also hash-chained (kiban-audit), and why
-- signed checkpoints of the chain head come later. PostgreSQL gets the same rules in
-- migrations/postgres/0001_append_only.sql (a plpgsql trigger function) when that backend is added.
-- Purging receipts and ledger rows after retain_until will be its own audited operation.

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER receipts_no_update BEFORE UPDATE ON receipts
BEGIN
    SELECT RAISE(ABORT, 'receipts is append-only');
END;

CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts
BEGIN
    SELECT RAISE(ABORT, 'receipts is append-only');
END;

CREATE TRIGGER receipt_items_no_update BEFORE UPDATE ON receipt_items
BEGIN
    SELECT RAISE(ABORT, 'receipt_items is append-only');
END;

CREATE TRIGGER receipt_items_no_delete BEFORE DELETE ON receipt_items
BEGIN
    SELECT RAISE(ABORT, 'receipt_items is append-only');
END;

CREATE TRIGGER receipt_record_counts_no_update BEFORE UPDATE ON receipt_record_counts
BEGIN
    SELECT RAISE(ABORT, 'receipt_record_counts is append-only');
END;

CREATE TRIGGER receipt_record_counts_no_delete BEFORE DELETE ON receipt_record_counts
BEGIN
    SELECT RAISE(ABORT, 'receipt_record_counts is append-only');
END;

CREATE TRIGGER quarantine_no_update BEFORE UPDATE ON quarantine
BEGIN
    SELECT RAISE(ABORT, 'quarantine is append-only');
END;

CREATE TRIGGER quarantine_no_delete BEFORE DELETE ON quarantine
BEGIN
    SELECT RAISE(ABORT, 'quarantine is append-only');
END;

CREATE TRIGGER releases_no_update BEFORE UPDATE ON releases
BEGIN
    SELECT RAISE(ABORT, 'releases is append-only');
END;

CREATE TRIGGER releases_no_delete BEFORE DELETE ON releases
BEGIN
    SELECT RAISE(ABORT, 'releases is append-only');
END;

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;

CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;

CREATE TRIGGER ledger_items_no_update BEFORE UPDATE ON ledger_items
BEGIN
    SELECT RAISE(ABORT, 'ledger_items is append-only');
END;

CREATE TRIGGER ledger_items_no_delete BEFORE DELETE ON ledger_items
BEGIN
    SELECT RAISE(ABORT, 'ledger_items is append-only');
END;
