-- Migration 0004, SQLite part: reservations and lifecycle states of releases are append-only.

CREATE TRIGGER release_reservations_no_update BEFORE UPDATE ON release_reservations
BEGIN
    SELECT RAISE(ABORT, 'release_reservations is append-only');
END;

CREATE TRIGGER release_reservations_no_delete BEFORE DELETE ON release_reservations
BEGIN
    SELECT RAISE(ABORT, 'release_reservations is append-only');
END;

CREATE TRIGGER release_states_no_update BEFORE UPDATE ON release_states
BEGIN
    SELECT RAISE(ABORT, 'release_states is append-only');
END;

CREATE TRIGGER release_states_no_delete BEFORE DELETE ON release_states
BEGIN
    SELECT RAISE(ABORT, 'release_states is append-only');
END;
