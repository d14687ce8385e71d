-- +goose Up
-- A products notification looks up the items it carries by their bytes' hash (an unchanged
-- product is skipped before it is even bound), so that its cost is its own items', whatever
-- the store holds (it used to read every product's hash of the store).
CREATE INDEX products_raw_hash ON products (raw_hash);

-- +goose Down
DROP INDEX products_raw_hash;
