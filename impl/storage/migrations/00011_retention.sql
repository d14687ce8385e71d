-- +goose Up
-- Retention (retention.go) deletes delivered forwarding messages and old inbox rows, a few
-- hundred at a time; these indexes let it find what still refers to an inbox row without
-- reading a whole table.
-- The messages of an inbox row: the foreign key's own check on every inbox row deleted, and
-- "is it still forwarded (pending or dead)?".
CREATE INDEX forward_messages_inbox ON forward_messages (inbox_id);
-- The receipts kept as spans of an inbox row's body (migration 00008): that row is kept. Partial:
-- empty on SQLite and for receipts that keep their own copy, and an append at the right edge
-- on PostgreSQL's receipts path (inbox ids only grow).
CREATE INDEX receipts_inbox ON receipts (inbox_id) WHERE inbox_id IS NOT NULL;
-- Dead messages per destination, for the metrics, read from this index alone (the pending ones
-- have forward_messages_pending). On destination only: a column every attempt updates
-- (last_status) would cost the attempts their in-place (HOT) updates.
CREATE INDEX forward_messages_dead ON forward_messages (destination) WHERE state = 'dead';

-- How far retention has looked through a table, so a run starts where the last one stopped
-- instead of re-reading rows it keeps (receipts' inbox rows are kept for good).
CREATE TABLE retention_marks (
    name     TEXT PRIMARY KEY,
    after_id BIGINT NOT NULL
);

-- +goose Down
DROP TABLE retention_marks;
DROP INDEX forward_messages_dead;
DROP INDEX receipts_inbox;
DROP INDEX forward_messages_inbox;
