-- The transactional outbox, as in postgres/00006_outbox.sql. seq orders
-- events as they were inserted; data is a JSON object as text; timestamps
-- are UTC text, as in 00001_users.sql.

-- +goose Up
CREATE TABLE outbox (
    seq             INTEGER  PRIMARY KEY AUTOINCREMENT,
    id              TEXT     NOT NULL UNIQUE CHECK (length(id) = 36),
    type            TEXT     NOT NULL,
    subject         TEXT     NOT NULL CHECK (length(subject) = 36),
    time            DATETIME NOT NULL,
    data            TEXT     NOT NULL CHECK (json_valid(data)),
    delivered_at    DATETIME NULL,
    attempts        INTEGER  NOT NULL DEFAULT 0,
    next_attempt_at DATETIME NULL
);

CREATE INDEX outbox_undelivered_idx ON outbox (seq) WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered_at_idx ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- +goose Down
DROP TABLE outbox;
