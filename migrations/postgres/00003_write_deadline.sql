-- The write fence. A client that gave up at its request's deadline (and
-- answered 503) cannot take back a COMMIT already on its way: a stalled
-- network delivers it when it heals, a frozen server reads it when it thaws.
-- So the service sets the deadline, on this server's clock, as
-- usersvc.write_deadline for the transaction (set_config(..., true)), and
-- these deferred constraint triggers refuse, inside COMMIT, any write to
-- users or sessions once clock_timestamp() is past it: the transaction rolls
-- back with SQLSTATE UT001. Without the setting (migrations, imports, psql)
-- the trigger's WHEN is false and no event is even queued.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION usersvc_refuse_late_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := NULLIF(current_setting('usersvc.write_deadline', true), '')::timestamptz;
BEGIN
    IF clock_timestamp() > deadline THEN
        RAISE EXCEPTION 'usersvc: write refused, the request''s deadline % has passed', deadline
            USING ERRCODE = 'UT001';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER users_write_deadline
    AFTER INSERT OR UPDATE OR DELETE ON users
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (current_setting('usersvc.write_deadline', true) <> '')
    EXECUTE FUNCTION usersvc_refuse_late_write();

CREATE CONSTRAINT TRIGGER sessions_write_deadline
    AFTER INSERT OR UPDATE ON sessions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (current_setting('usersvc.write_deadline', true) <> '')
    EXECUTE FUNCTION usersvc_refuse_late_write();

-- +goose Down
DROP TRIGGER sessions_write_deadline ON sessions;
DROP TRIGGER users_write_deadline ON users;
DROP FUNCTION usersvc_refuse_late_write();
