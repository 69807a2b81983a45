-- Migration 0005, SQLite part: provider credentials and release handovers are append-only.

CREATE TRIGGER provider_credentials_no_update BEFORE UPDATE ON provider_credentials
BEGIN
    SELECT RAISE(ABORT, 'provider_credentials is append-only');
END;

CREATE TRIGGER provider_credentials_no_delete BEFORE DELETE ON provider_credentials
BEGIN
    SELECT RAISE(ABORT, 'provider_credentials is append-only');
END;

CREATE TRIGGER release_handovers_no_update BEFORE UPDATE ON release_handovers
BEGIN
    SELECT RAISE(ABORT, 'release_handovers is append-only');
END;

CREATE TRIGGER release_handovers_no_delete BEFORE DELETE ON release_handovers
BEGIN
    SELECT RAISE(ABORT, 'release_handovers is append-only');
END;
