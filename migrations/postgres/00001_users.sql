-- Accounts. username keeps the case the user chose; username_key is its
-- lower-cased form, and its unique index is what makes usernames unique
-- case-insensitively (the service never checks in Go first).

-- +goose Up
CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    username      text        NOT NULL,
    username_key  text        NOT NULL,
    password_hash text        NOT NULL,
    full_name     text        NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT users_username_format CHECK (username ~ '^[A-Za-z0-9]{1,50}$'),
    CONSTRAINT users_username_key_lower CHECK (username_key = lower(username)),
    CONSTRAINT users_password_hash_set CHECK (password_hash <> ''),
    CONSTRAINT users_full_name_length CHECK (full_name IS NULL OR char_length(full_name) BETWEEN 1 AND 100)
);

CREATE UNIQUE INDEX users_username_key_uq ON users (username_key);

-- +goose Down
DROP TABLE users;
