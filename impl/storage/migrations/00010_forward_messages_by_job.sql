-- +goose Up
-- A send job finds the messages it owns (it drains a user's queue: impl/forward/worker.go)
-- without reading the outbox's history.
CREATE INDEX forward_messages_job ON forward_messages (job_id) WHERE state = 'pending';

-- +goose Down
DROP INDEX forward_messages_job;
