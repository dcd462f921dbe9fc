-- An operator may disable an account, as in postgres/00008_user_disabled.sql:
-- disabled_at is when (NULL while enabled), disabled_reason the operator's
-- note. Timestamps are UTC text, as in 00001_users.sql. SQLite adds CHECKs
-- only with the column, so each column checks itself.

-- +goose Up
ALTER TABLE users ADD COLUMN disabled_at DATETIME NULL
    CHECK (disabled_at IS NULL OR disabled_at LIKE '____-__-__ __:__:__%+00:00');
ALTER TABLE users ADD COLUMN disabled_reason TEXT NULL
    CHECK (disabled_reason IS NULL OR length(disabled_reason) BETWEEN 1 AND 200);

-- +goose Down
ALTER TABLE users DROP COLUMN disabled_reason;
ALTER TABLE users DROP COLUMN disabled_at;
