-- Accounts. username keeps the case the user chose; username_key is its
-- lower-cased form, and its unique index is what makes usernames unique
-- case-insensitively (the service never checks in Go first).
--
-- Timestamps are DATETIME columns holding UTC text as the glebarez/go-sqlite
-- driver writes a time.Time ("2006-01-02 15:04:05.999999999+00:00") and parses
-- it back for DATE/DATETIME/TIMESTAMP columns. Always UTC, so comparing the
-- text orders the instants; the CHECKs refuse any other offset.

-- +goose Up
CREATE TABLE users (
    id            TEXT     NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    username      TEXT     NOT NULL,
    username_key  TEXT     NOT NULL,
    password_hash TEXT     NOT NULL,
    full_name     TEXT     NULL,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL,
    CONSTRAINT users_username_format CHECK (length(username) BETWEEN 1 AND 50 AND username NOT GLOB '*[^A-Za-z0-9]*'),
    CONSTRAINT users_username_key_lower CHECK (username_key = lower(username)),
    CONSTRAINT users_password_hash_set CHECK (password_hash <> ''),
    CONSTRAINT users_full_name_length CHECK (full_name IS NULL OR length(full_name) BETWEEN 1 AND 100),
    CONSTRAINT users_times_utc CHECK (created_at LIKE '____-__-__ __:__:__%+00:00' AND updated_at LIKE '____-__-__ __:__:__%+00:00')
);

CREATE UNIQUE INDEX users_username_key_uq ON users (username_key);

-- +goose Down
DROP TABLE users;
