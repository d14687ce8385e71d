-- +goose Up
-- evotor_refuse aborts the statement that calls it, with SQLSTATE EV001 and the reason as its
-- message. A single-statement delivery (receipts_postgres.go) calls it when a check it made
-- after writing fails, so that the statement's writes roll back with it.
-- PostgreSQL only: on SQLite this migration applies nothing (see sqliteMigrations).
-- +goose StatementBegin
CREATE FUNCTION evotor_refuse(reason TEXT) RETURNS BIGINT LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'EV001', MESSAGE = reason;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION evotor_refuse(TEXT);
