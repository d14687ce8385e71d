-- +goose Up
-- A large inbox body is stored compressed, as an lz4 frame (inbox_body.go); body_length is then
-- its length as received, which the admin listing shows (NULL: the body is stored as received,
-- and length(body) is its length).
ALTER TABLE inbox ADD COLUMN body_length BIGINT;

-- +goose Down
ALTER TABLE inbox DROP COLUMN body_length;
