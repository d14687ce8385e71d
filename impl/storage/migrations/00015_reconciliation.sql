-- +goose Up
-- Reconciliation (issue 20 §2): calling Evotor back with the user's cloud token.
-- A 401 from Evotor marks the cloud token invalid until the next user/token replaces it.
ALTER TABLE cloud_tokens ADD COLUMN invalid_since TIMESTAMPTZ;

-- Records Evotor no longer lists are marked, never deleted; seen again, the mark is cleared.
ALTER TABLE stores ADD COLUMN missing_since TIMESTAMPTZ;
ALTER TABLE devices ADD COLUMN missing_since TIMESTAMPTZ;
ALTER TABLE employees ADD COLUMN missing_since TIMESTAMPTZ;
ALTER TABLE products ADD COLUMN missing_since TIMESTAMPTZ;

-- The last sync of each user: its state (running, succeeded, failed), when it started and
-- finished, what it fetched and changed, and why it failed (never a token).
CREATE TABLE sync_states (
    evotor_user_id TEXT PRIMARY KEY,
    state          TEXT NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    fetched        BIGINT NOT NULL DEFAULT 0,
    changed        BIGINT NOT NULL DEFAULT 0,
    missing        BIGINT NOT NULL DEFAULT 0,
    error          TEXT
);

-- +goose Down
DROP TABLE sync_states;
ALTER TABLE products DROP COLUMN missing_since;
ALTER TABLE employees DROP COLUMN missing_since;
ALTER TABLE devices DROP COLUMN missing_since;
ALTER TABLE stores DROP COLUMN missing_since;
ALTER TABLE cloud_tokens DROP COLUMN invalid_since;
