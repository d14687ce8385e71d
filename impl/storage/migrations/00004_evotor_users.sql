-- +goose Up
-- Every Evotor user the server has heard of, in the order it first did: the admin API lists
-- users newest first by seq.
CREATE TABLE evotor_users (
    seq            BIGSERIAL PRIMARY KEY,
    evotor_user_id TEXT NOT NULL UNIQUE,
    first_seen_at  TIMESTAMPTZ NOT NULL
);
INSERT INTO evotor_users (evotor_user_id, first_seen_at)
SELECT evotor_user_id, MIN(seen) FROM (
    SELECT evotor_user_id, created_at AS seen FROM accounts WHERE evotor_user_id IS NOT NULL
    UNION ALL SELECT evotor_user_id, updated_at FROM cloud_tokens
    UNION ALL SELECT evotor_user_id, received_at FROM subscription_events
    UNION ALL SELECT evotor_user_id, received_at FROM installation_events
) AS known
GROUP BY evotor_user_id
ORDER BY MIN(seen), evotor_user_id;

-- +goose Down
DROP TABLE evotor_users;
