-- +goose Up
-- Tokens superseded by a newer one for the same user expire a grace period later.
ALTER TABLE user_tokens ADD COLUMN superseded_at TIMESTAMPTZ;

-- Billing events, once each: event_key is subscriptionId:sequenceNumber (or a body hash).
CREATE TABLE subscription_events (
    id              BIGSERIAL PRIMARY KEY,
    event_key       TEXT NOT NULL UNIQUE,
    subscription_id TEXT NOT NULL,
    sequence_number BIGINT,
    evotor_user_id  TEXT NOT NULL,
    type            TEXT NOT NULL,
    body            BYTEA NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX subscription_events_sub ON subscription_events (subscription_id, sequence_number);

-- A subscription's state, folded from its events in sequence order.
CREATE TABLE subscriptions (
    subscription_id       TEXT PRIMARY KEY,
    evotor_user_id        TEXT NOT NULL,
    product_id            TEXT NOT NULL,
    status                TEXT NOT NULL,
    termination_requested BOOLEAN NOT NULL DEFAULT FALSE,
    plan_id               TEXT,
    device_number         BIGINT,
    next_billing_date     TEXT,
    addons                TEXT,
    last_sequence         BIGINT,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX subscriptions_user ON subscriptions (evotor_user_id);

CREATE TABLE installation_events (
    event_id       TEXT PRIMARY KEY,
    evotor_user_id TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    type           TEXT NOT NULL,
    occurred_ms    BIGINT NOT NULL,
    body           BYTEA NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE installations (
    evotor_user_id TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    installed      BOOLEAN NOT NULL,
    last_event_ms  BIGINT NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (evotor_user_id, product_id)
);

-- Inventory of each owner (the Evotor user). An Evotor uuid belongs to one owner only: the uuid
-- is the one unique key (so ON CONFLICT can arbitrate concurrent deliveries on it), and every
-- write is conditioned on owner_id, so no upsert moves a row to another owner.
CREATE TABLE stores (
    owner_id   TEXT NOT NULL,
    uuid            TEXT PRIMARY KEY,
    name       TEXT,
    address    TEXT,
    code       TEXT,
    raw        BYTEA,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX stores_owner ON stores (owner_id, uuid);

CREATE TABLE devices (
    owner_id        TEXT NOT NULL,
    uuid            TEXT PRIMARY KEY,
    store_uuid      TEXT,
    name            TEXT,
    code            TEXT,
    timezone_offset BIGINT,
    raw             BYTEA NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX devices_owner ON devices (owner_id, uuid);

CREATE TABLE employees (
    owner_id        TEXT NOT NULL,
    uuid            TEXT PRIMARY KEY,
    name            TEXT,
    last_name       TEXT,
    patronymic_name TEXT,
    phone           TEXT,
    role            TEXT,
    stores          TEXT NOT NULL,
    raw             BYTEA NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX employees_owner ON employees (owner_id, uuid);

-- +goose Down
DROP TABLE employees;
DROP TABLE devices;
DROP TABLE stores;
DROP TABLE installations;
DROP TABLE installation_events;
DROP TABLE subscriptions;
DROP TABLE subscription_events;
ALTER TABLE user_tokens DROP COLUMN superseded_at;
