-- What a user sees of their sessions: when each was last used (its start or
-- last refresh), from which IP address and user agent, and the name the user
-- gave it. Existing sessions count as last used at their last rotation or
-- start; their client is unknown (NULL). A deleted account's tombstones keep
-- none of it (the service clears ip, user_agent and name before the delete).
--
-- The clean-up deletes sessions that ended long ago, batch by batch, found by
-- when they ended: sessions_ended_at_idx indexes that instant, the earliest of
-- the absolute end, the refresh token's expiry and the revocation.
--
-- The write fence (00003) now also refuses a late DELETE of sessions, which
-- the clean-up does.

-- +goose Up
ALTER TABLE sessions ADD COLUMN last_used_at timestamptz NULL;
UPDATE sessions SET last_used_at = COALESCE(rotated_at, created_at);
ALTER TABLE sessions ALTER COLUMN last_used_at SET NOT NULL;
ALTER TABLE sessions ADD COLUMN ip text NULL;
ALTER TABLE sessions ADD COLUMN user_agent text NULL CHECK (char_length(user_agent) BETWEEN 1 AND 256);
ALTER TABLE sessions ADD COLUMN name text NULL CHECK (char_length(name) BETWEEN 1 AND 64);

CREATE INDEX sessions_ended_at_idx ON sessions
    (LEAST(expires_at, refresh_expires_at, COALESCE(revoked_at, 'infinity')));

DROP TRIGGER sessions_write_deadline ON sessions;
CREATE CONSTRAINT TRIGGER sessions_write_deadline
    AFTER INSERT OR UPDATE OR DELETE ON sessions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (current_setting('usersvc.write_deadline', true) <> '')
    EXECUTE FUNCTION usersvc_refuse_late_write();

-- +goose Down
DROP TRIGGER sessions_write_deadline ON sessions;
CREATE CONSTRAINT TRIGGER sessions_write_deadline
    AFTER INSERT OR UPDATE ON sessions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (current_setting('usersvc.write_deadline', true) <> '')
    EXECUTE FUNCTION usersvc_refuse_late_write();

DROP INDEX sessions_ended_at_idx;
ALTER TABLE sessions DROP COLUMN name;
ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN last_used_at;
