-- Migration 0005, PostgreSQL part: provider credentials, release handovers and linkage review decisions are append-only. Same
-- rules as migrations/sqlite/0005_append_only.sql; the trigger function is migration 0001's.

CREATE TRIGGER provider_credentials_append_only BEFORE UPDATE OR DELETE ON provider_credentials
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER provider_credentials_no_truncate BEFORE TRUNCATE ON provider_credentials
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();

CREATE TRIGGER release_handovers_append_only BEFORE UPDATE OR DELETE ON release_handovers
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER release_handovers_no_truncate BEFORE TRUNCATE ON release_handovers
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();

CREATE TRIGGER link_review_decisions_append_only BEFORE UPDATE OR DELETE ON link_review_decisions
    FOR EACH ROW EXECUTE FUNCTION kiban_append_only();
CREATE TRIGGER link_review_decisions_no_truncate BEFORE TRUNCATE ON link_review_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION kiban_append_only();
