-- +goose Up
-- A products notification now looks its items up by uuid (the primary key) and compares the
-- stored hash: the hash's own index cost every new product one more random insert (a tenth
-- of a catalogue's time into a new store) and served nothing else.
DROP INDEX products_raw_hash;

-- +goose Down
CREATE INDEX products_raw_hash ON products (raw_hash);
