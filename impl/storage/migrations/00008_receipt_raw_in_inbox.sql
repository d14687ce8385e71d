-- +goose Up
-- A receipt's JSON is part of its delivery's body, which the inbox keeps byte for byte. A
-- receipt with inbox_id keeps no copy of it (raw is empty): it is the raw_length bytes at
-- offset raw_at of that inbox row's body (ReceiptsOf reads it so). Rows without inbox_id keep
-- their own raw.
-- No foreign key: inbox rows are never deleted, and a key's check would lock the inbox row
-- for every receipt written (measurably slower on the receipts path).
ALTER TABLE receipts ADD COLUMN inbox_id BIGINT;
ALTER TABLE receipts ADD COLUMN raw_at INTEGER;
ALTER TABLE receipts ADD COLUMN raw_length INTEGER;

-- +goose Down
ALTER TABLE receipts DROP COLUMN raw_length;
ALTER TABLE receipts DROP COLUMN raw_at;
ALTER TABLE receipts DROP COLUMN inbox_id;
