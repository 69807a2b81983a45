-- Migration 0003, SQLite part: deletion records (Rule 19) are legal records, append-only.

CREATE TRIGGER deletions_no_update BEFORE UPDATE ON deletions
BEGIN
    SELECT RAISE(ABORT, 'deletions is append-only');
END;

CREATE TRIGGER deletions_no_delete BEFORE DELETE ON deletions
BEGIN
    SELECT RAISE(ABORT, 'deletions is append-only');
END;
