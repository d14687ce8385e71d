-- +goose Up
CREATE TABLE accounts (
    id             BIGSERIAL PRIMARY KEY,
    login          TEXT,
    login_key      TEXT UNIQUE,            -- lower-cased login: logins are unique case-insensitively
    password_hash  TEXT,                   -- argon2id PHC string, never the password
    has_billing    BOOLEAN NOT NULL DEFAULT FALSE,
    evotor_user_id TEXT UNIQUE,            -- at most one Evotor user per account and vice versa
    custom_fields  TEXT NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE user_tokens (
    id             BIGSERIAL PRIMARY KEY,
    token_hash     BYTEA NOT NULL UNIQUE,  -- SHA-256 of the token we issued
    evotor_user_id TEXT NOT NULL,
    account_id     BIGINT NOT NULL REFERENCES accounts(id),
    issued_at      TIMESTAMPTZ NOT NULL,
    revoked_at     TIMESTAMPTZ
);
CREATE INDEX user_tokens_user ON user_tokens (evotor_user_id);

CREATE TABLE cloud_tokens (
    evotor_user_id TEXT PRIMARY KEY,
    sealed_token   BYTEA NOT NULL,         -- AES-GCM, bound to evotor_user_id
    updated_at     TIMESTAMPTZ NOT NULL
);

-- Every accepted event and notification, stored before the 200. Bodies are bytes, not jsonb:
-- a \u0000 would make a row that can never be written, and Evotor would re-send it for days.
CREATE TABLE inbox (
    id             BIGSERIAL PRIMARY KEY,
    operation      TEXT NOT NULL,
    evotor_user_id TEXT,
    path_params    TEXT NOT NULL DEFAULT '{}',
    received_at    TIMESTAMPTZ NOT NULL,
    body           BYTEA NOT NULL
);
CREATE INDEX inbox_user ON inbox (evotor_user_id, id);

-- +goose Down
DROP TABLE inbox;
DROP TABLE cloud_tokens;
DROP TABLE user_tokens;
DROP TABLE accounts;
