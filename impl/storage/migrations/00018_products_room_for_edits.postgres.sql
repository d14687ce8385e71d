-- +goose Up
-- PostgreSQL: most products notifications are edits (a new price) of a stored product, which
-- change no indexed column. With room left on its page the new row version stays there (a HOT
-- update) and the primary key is not written at all; on a full page it goes elsewhere and the
-- index gets an entry on a random page, with that page's whole image in the WAL after each
-- checkpoint. Pages written from now on are filled to 80%.
ALTER TABLE products SET (fillfactor = 80);

-- +goose Down
ALTER TABLE products RESET (fillfactor);
