-- An operator may disable an account (usersvc admin users disable): disabled_at
-- is when, NULL while the account is enabled; disabled_reason is the
-- operator's note, only ever set on a disabled account. A disabled account
-- starts no session: the sessions store reads disabled_at under the same row
-- lock that serialises session starts, and disabling revokes every session
-- in the same transaction.

-- +goose Up
ALTER TABLE users ADD COLUMN disabled_at timestamptz NULL;
ALTER TABLE users ADD COLUMN disabled_reason text NULL;
ALTER TABLE users ADD CONSTRAINT users_disabled_reason_length
    CHECK (disabled_reason IS NULL OR char_length(disabled_reason) BETWEEN 1 AND 200);
ALTER TABLE users ADD CONSTRAINT users_disabled_reason_only_when_disabled
    CHECK (disabled_reason IS NULL OR disabled_at IS NOT NULL);

-- +goose Down
ALTER TABLE users DROP CONSTRAINT users_disabled_reason_only_when_disabled;
ALTER TABLE users DROP CONSTRAINT users_disabled_reason_length;
ALTER TABLE users DROP COLUMN disabled_reason;
ALTER TABLE users DROP COLUMN disabled_at;
