-- Sessions and their refresh-token state. refresh_id is the one live refresh
-- token; previous_refresh_id and rotated_at remember the token the last
-- rotation retired, for the reuse grace period. Rotation is a conditional
-- UPDATE on refresh_id, so two servers on this database agree.

-- +goose Up
CREATE TABLE sessions (
    id                  uuid        PRIMARY KEY,
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    refresh_id          uuid        NOT NULL,
    refresh_issued_at   timestamptz NOT NULL,
    refresh_expires_at  timestamptz NOT NULL,
    previous_refresh_id uuid        NULL,
    rotated_at          timestamptz NULL,
    revoked_at          timestamptz NULL
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- +goose Down
DROP TABLE sessions;
