-- +goose Up
-- Forwarding (an outbox): every accepted delivery becomes one message per destination, written
-- in the delivery's own transaction. seq orders one Evotor user's messages; forward_users hands
-- it out, and its row lock makes concurrent deliveries of one user commit in seq order.
CREATE TABLE forward_users (
    evotor_user_id TEXT PRIMARY KEY,       -- '' for a delivery about no user
    last_seq       BIGINT NOT NULL
);

CREATE TABLE forward_messages (
    id              BIGSERIAL PRIMARY KEY,
    destination     TEXT NOT NULL,         -- the destination's URL (never with credentials)
    evotor_user_id  TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    inbox_id        BIGINT NOT NULL REFERENCES inbox(id),
    state           TEXT NOT NULL,         -- pending, delivered, dead
    job_id          BIGINT,                -- the job-queue job that sends it
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_attempt_at TIMESTAMPTZ,
    last_status     BIGINT,                -- HTTP status of the last attempt; NULL: no answer
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    UNIQUE (destination, evotor_user_id, seq)
);
-- A user's earliest pending message, found without reading what was delivered already.
CREATE INDEX forward_messages_pending ON forward_messages (destination, evotor_user_id, seq) WHERE state = 'pending';
CREATE INDEX forward_messages_state ON forward_messages (state, id);

-- +goose Down
DROP TABLE forward_messages;
DROP TABLE forward_users;
