-- The write fence of migrations/postgres/00003_write_deadline.sql has no
-- SQLite counterpart, and needs none: there is no network between the
-- service and its database file, so no statement or COMMIT can reach the
-- database after the service gave up on it, and a transaction whose
-- request's deadline passes is rolled back inside the process. This file
-- only keeps the version numbers of the two dialects in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
