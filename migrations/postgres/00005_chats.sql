-- The chat context's tables. A chat belongs to one user and goes with the
-- account (ON DELETE CASCADE), and its messages go with it, in the same
-- statement that deletes the user or the chat. The indexes serve the keyset
-- pages of the list routes: newest first by (created_at, id), per owner and
-- per chat, so a page is an index range scan, never an OFFSET.

-- +goose Up
CREATE TABLE chats (
    id         uuid        PRIMARY KEY,
    owner_id   uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      text        NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT chats_title_length CHECK (char_length(title) BETWEEN 1 AND 100)
);

CREATE INDEX chats_owner_page_idx ON chats (owner_id, created_at DESC, id DESC);

CREATE TABLE messages (
    id         uuid        PRIMARY KEY,
    chat_id    uuid        NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    author_id  uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT messages_body_length CHECK (char_length(body) BETWEEN 1 AND 4000)
);

CREATE INDEX messages_chat_page_idx ON messages (chat_id, created_at DESC, id DESC);
-- Serves the cascade from users: without it, deleting an account scans every message.
CREATE INDEX messages_author_idx ON messages (author_id);

-- The write fence of 00003_write_deadline.sql guards these tables too.
CREATE CONSTRAINT TRIGGER chats_write_deadline
    AFTER INSERT OR UPDATE OR DELETE ON chats
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (current_setting('usersvc.write_deadline', true) <> '')
    EXECUTE FUNCTION usersvc_refuse_late_write();

CREATE CONSTRAINT TRIGGER messages_write_deadline
    AFTER INSERT ON messages
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (current_setting('usersvc.write_deadline', true) <> '')
    EXECUTE FUNCTION usersvc_refuse_late_write();

-- +goose Down
DROP TABLE messages;
DROP TABLE chats;
