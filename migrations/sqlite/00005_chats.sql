-- The chat context's tables, as in postgres/00005_chats.sql: chats go with
-- their owner's account and messages with their chat (ON DELETE CASCADE,
-- which needs PRAGMA foreign_keys=ON, set by sqlstore.Open on every
-- connection), and the indexes serve the newest-first keyset pages.
-- Timestamps are UTC text, as in 00001_users.sql, so comparing the text
-- orders the instants.

-- +goose Up
CREATE TABLE chats (
    id         TEXT     NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    owner_id   TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT     NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    CONSTRAINT chats_title_length CHECK (length(title) BETWEEN 1 AND 100),
    CONSTRAINT chats_times_utc CHECK (created_at LIKE '____-__-__ __:__:__%+00:00' AND updated_at LIKE '____-__-__ __:__:__%+00:00')
);

CREATE INDEX chats_owner_page_idx ON chats (owner_id, created_at DESC, id DESC);

CREATE TABLE messages (
    id         TEXT     NOT NULL PRIMARY KEY CHECK (length(id) = 36),
    chat_id    TEXT     NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    author_id  TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       TEXT     NOT NULL,
    created_at DATETIME NOT NULL,
    CONSTRAINT messages_body_length CHECK (length(body) BETWEEN 1 AND 4000),
    CONSTRAINT messages_times_utc CHECK (created_at LIKE '____-__-__ __:__:__%+00:00')
);

CREATE INDEX messages_chat_page_idx ON messages (chat_id, created_at DESC, id DESC);
CREATE INDEX messages_author_idx ON messages (author_id);

-- +goose Down
DROP TABLE messages;
DROP TABLE chats;
