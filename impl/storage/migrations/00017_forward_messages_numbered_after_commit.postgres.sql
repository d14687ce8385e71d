-- +goose Up
-- PostgreSQL: a delivery writes its forwarding messages unnumbered (seq NULL) and they are
-- numbered after its commit, in inbox id order (SequenceMessages, outbox.go), so one user's
-- deliveries no longer wait for each other's commits. The index finds the unnumbered ones
-- whatever the history. SQLite numbers in the delivery's own transaction: nothing changes there.
ALTER TABLE forward_messages ALTER COLUMN seq DROP NOT NULL;
CREATE INDEX forward_messages_unnumbered ON forward_messages (inbox_id) WHERE seq IS NULL;

-- +goose Down
DROP INDEX forward_messages_unnumbered;
ALTER TABLE forward_messages ALTER COLUMN seq SET NOT NULL;
