-- The transactional outbox: every change of a user or a session inserts its
-- events here in the same transaction as the change. seq orders them as they
-- were inserted (per user, later requests come later); the relay publishes
-- undelivered rows in seq order, marks them delivered once the broker has
-- acknowledged them, retries failed ones no sooner than next_attempt_at, and
-- deletes delivered rows after the retention period.

-- +goose Up
CREATE TABLE outbox (
    seq             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              uuid        NOT NULL UNIQUE,
    type            text        NOT NULL,
    subject         uuid        NOT NULL,
    time            timestamptz NOT NULL,
    data            jsonb       NOT NULL,
    delivered_at    timestamptz NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NULL
);

CREATE INDEX outbox_undelivered_idx ON outbox (seq) WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered_at_idx ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- Events of a request that failed its deadline never commit (00003).
CREATE CONSTRAINT TRIGGER outbox_write_deadline
    AFTER INSERT ON outbox
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (current_setting('usersvc.write_deadline', true) <> '')
    EXECUTE FUNCTION usersvc_refuse_late_write();

-- +goose Down
DROP TABLE outbox;
