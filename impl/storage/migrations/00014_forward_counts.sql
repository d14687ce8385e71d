-- +goose Up
-- What forwarding has done per destination, as counters kept up to date in each attempt's
-- transaction, so the admin API's totals cost the same whatever the history (and survive
-- retention, which deletes delivered messages). One row per destination and shard (a hash of
-- the Evotor user): senders of one destination rarely wait for each other's row.
CREATE TABLE forward_counts (
    destination     TEXT NOT NULL,
    shard           INTEGER NOT NULL,
    delivered       BIGINT NOT NULL DEFAULT 0,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (destination, shard)
);
-- The history so far, counted once.
INSERT INTO forward_counts (destination, shard, delivered, failed_attempts)
SELECT destination, 0, SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END),
       SUM(attempts) - SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END)
FROM forward_messages GROUP BY destination;

-- +goose Down
DROP TABLE forward_counts;
