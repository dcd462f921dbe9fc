-- Sessions and their refresh-token state. refresh_id is the one live refresh
-- token; previous_refresh_id and rotated_at remember the token the last
-- rotation retired, for the reuse grace period. Rotation is a conditional
-- UPDATE on refresh_id. Timestamps are UTC text, as in 00001_users.sql; the
-- cascade needs PRAGMA foreign_keys=ON, which sqlstore.Open sets on every
-- connection.

-- +goose Up
CREATE TABLE sessions (
    id                  TEXT     NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    user_id             TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          DATETIME NOT NULL,
    expires_at          DATETIME NOT NULL,
    refresh_id          TEXT     NOT NULL CHECK (length(refresh_id) = 36),
    refresh_issued_at   DATETIME NOT NULL,
    refresh_expires_at  DATETIME NOT NULL,
    previous_refresh_id TEXT     NULL,
    rotated_at          DATETIME NULL,
    revoked_at          DATETIME NULL,
    CONSTRAINT sessions_times_utc CHECK (
        created_at LIKE '____-__-__ __:__:__%+00:00'
        AND expires_at LIKE '____-__-__ __:__:__%+00:00'
        AND refresh_issued_at LIKE '____-__-__ __:__:__%+00:00'
        AND refresh_expires_at LIKE '____-__-__ __:__:__%+00:00'
        AND (rotated_at IS NULL OR rotated_at LIKE '____-__-__ __:__:__%+00:00')
        AND (revoked_at IS NULL OR revoked_at LIKE '____-__-__ __:__:__%+00:00')
    )
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- +goose Down
DROP TABLE sessions;
