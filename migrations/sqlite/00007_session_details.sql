-- What a user sees of their sessions, as in postgres/00007_session_details.sql:
-- last use, client IP address, user agent and a name. SQLite adds a NOT NULL
-- column only with a default; every session the service writes sets
-- last_used_at, and existing ones are set to their last rotation or start
-- right away. Timestamps are UTC text, as in 00001_users.sql. The clean-up
-- finds ended sessions by sessions_ended_at_idx (min() of UTC text of one
-- format orders as the instants do).

-- +goose Up
ALTER TABLE sessions ADD COLUMN last_used_at DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00+00:00'
    CHECK (last_used_at LIKE '____-__-__ __:__:__%+00:00');
UPDATE sessions SET last_used_at = COALESCE(rotated_at, created_at);
ALTER TABLE sessions ADD COLUMN ip TEXT NULL;
ALTER TABLE sessions ADD COLUMN user_agent TEXT NULL CHECK (length(user_agent) BETWEEN 1 AND 256);
ALTER TABLE sessions ADD COLUMN name TEXT NULL CHECK (length(name) BETWEEN 1 AND 64);

CREATE INDEX sessions_ended_at_idx ON sessions
    (min(expires_at, refresh_expires_at, COALESCE(revoked_at, '9999-12-31 23:59:59+00:00')));

-- +goose Down
DROP INDEX sessions_ended_at_idx;
ALTER TABLE sessions DROP COLUMN name;
ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN last_used_at;
