-- Migration 0005, SQLite part: provider credentials, release handovers and linkage review decisions are append-only.

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

CREATE TRIGGER link_review_decisions_no_update BEFORE UPDATE ON link_review_decisions
BEGIN
    SELECT RAISE(ABORT, 'link_review_decisions is append-only');
END;

CREATE TRIGGER link_review_decisions_no_delete BEFORE DELETE ON link_review_decisions
BEGIN
    SELECT RAISE(ABORT, 'link_review_decisions is append-only');
END;
