-- A deleted account's sessions outlive it as tombstones: the account's row
-- goes, its sessions lose their user_id (ON DELETE SET NULL) but keep their
-- id and revoked_at, so an instance that reloads the recent revocations from
-- this table after its listener reconnected still refuses their access
-- tokens. The account deletion revokes them first; the periodic clean-up
-- removes them once no access token of theirs can be live.

-- +goose Up
ALTER TABLE sessions ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE sessions DROP CONSTRAINT sessions_user_id_fkey;
ALTER TABLE sessions ADD CONSTRAINT sessions_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- +goose Down
DROP INDEX sessions_revoked_at_idx;
DELETE FROM sessions WHERE user_id IS NULL;
ALTER TABLE sessions DROP CONSTRAINT sessions_user_id_fkey;
ALTER TABLE sessions ADD CONSTRAINT sessions_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE sessions ALTER COLUMN user_id SET NOT NULL;
