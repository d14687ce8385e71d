-- +goose Up
-- One row: a constant sealed with the first EVOTOR_PARTNER_SECRET_KEY. A start-up whose keys do
-- not open it is refused before it seals anything the other instances could not open.
CREATE TABLE secret_key_check (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    sealed     BYTEA NOT NULL,          -- AES-GCM of a constant, label "secret key check"
    updated_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE secret_key_check;
