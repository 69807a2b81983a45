-- Migration 0002, SQLite part: opt-out requests and their subjects are legal records (Rules 31, 32):
-- append-only, like the receipts. The linkage export rows are append-only too, so a row ID always
-- names the person it named when the file left.

CREATE TRIGGER optout_requests_no_update BEFORE UPDATE ON optout_requests
BEGIN
    SELECT RAISE(ABORT, 'optout_requests is append-only');
END;

CREATE TRIGGER optout_requests_no_delete BEFORE DELETE ON optout_requests
BEGIN
    SELECT RAISE(ABORT, 'optout_requests is append-only');
END;

CREATE TRIGGER optout_subjects_no_update BEFORE UPDATE ON optout_subjects
BEGIN
    SELECT RAISE(ABORT, 'optout_subjects is append-only');
END;

CREATE TRIGGER optout_subjects_no_delete BEFORE DELETE ON optout_subjects
BEGIN
    SELECT RAISE(ABORT, 'optout_subjects is append-only');
END;

CREATE TRIGGER linkage_export_rows_no_update BEFORE UPDATE ON linkage_export_rows
BEGIN
    SELECT RAISE(ABORT, 'linkage_export_rows is append-only');
END;

CREATE TRIGGER linkage_export_rows_no_delete BEFORE DELETE ON linkage_export_rows
BEGIN
    SELECT RAISE(ABORT, 'linkage_export_rows is append-only');
END;
