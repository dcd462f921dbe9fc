-- A deleted account's sessions outlive it as tombstones, as in
-- postgres/00004_session_tombstones.sql. SQLite cannot change a foreign key
-- in place, so the table is rebuilt with user_id nullable and ON DELETE SET
-- NULL; nothing refers to sessions, so dropping the old table is safe with
-- foreign keys on.

-- +goose Up
CREATE TABLE sessions_new (
    id                  TEXT     NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    user_id             TEXT     NULL REFERENCES users (id) ON DELETE SET NULL,
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
INSERT INTO sessions_new SELECT id, user_id, created_at, expires_at, refresh_id, refresh_issued_at,
    refresh_expires_at, previous_refresh_id, rotated_at, revoked_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- +goose Down
CREATE TABLE sessions_old (
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
INSERT INTO sessions_old SELECT id, user_id, created_at, expires_at, refresh_id, refresh_issued_at,
    refresh_expires_at, previous_refresh_id, rotated_at, revoked_at FROM sessions WHERE user_id IS NOT NULL;
DROP TABLE sessions;
ALTER TABLE sessions_old RENAME TO sessions;
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
