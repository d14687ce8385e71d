-- +goose Up
-- Products and groups per (owner, store); numbers are kept as Evotor wrote them.
CREATE TABLE products (
    owner_id                  TEXT NOT NULL,
    store_uuid                TEXT NOT NULL,
    uuid                      TEXT NOT NULL,
    parent_uuid               TEXT,
    is_group                  BOOLEAN NOT NULL,
    has_variants              BOOLEAN,
    type                      TEXT,
    name                      TEXT NOT NULL,
    code                      TEXT,
    bar_codes                 TEXT,
    alco_codes                TEXT,
    price                     TEXT,
    quantity                  TEXT,
    cost_price                TEXT,
    measure_name              TEXT,
    tax                       TEXT,
    allow_to_sell             BOOLEAN,
    article_number            TEXT,
    alcohol_by_volume         TEXT,
    alcohol_product_kind_code TEXT,
    tare_volume               TEXT,
    raw                       BYTEA NOT NULL,
    raw_hash                  BYTEA NOT NULL, -- SHA-256 of raw: a re-sent catalogue is compared, not rewritten
    updated_at                TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (owner_id, store_uuid, uuid)
);

-- One row per barcode, for the commodities lookup.
CREATE TABLE product_barcodes (
    owner_id     TEXT NOT NULL,
    store_uuid   TEXT NOT NULL,
    product_uuid TEXT NOT NULL,
    barcode      TEXT NOT NULL,
    PRIMARY KEY (owner_id, store_uuid, product_uuid, barcode)
);
CREATE INDEX product_barcodes_lookup ON product_barcodes (owner_id, barcode);

CREATE TABLE documents (
    owner_id         TEXT NOT NULL,
    uuid             TEXT PRIMARY KEY,
    store_uuid       TEXT NOT NULL,
    type             TEXT NOT NULL,
    device_uuid      TEXT,
    session_uuid     TEXT,
    session_number   TEXT,
    number           TEXT,
    open_at          TIMESTAMPTZ,
    close_at         TIMESTAMPTZ,
    close_sum        TEXT,
    close_result_sum TEXT,
    raw              BYTEA NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX documents_store ON documents (owner_id, store_uuid, uuid);

-- One receipt per Evotor event id; a redelivery changes nothing.
CREATE TABLE receipts (
    owner_id       TEXT NOT NULL,
    id             TEXT PRIMARY KEY,
    receipt_uuid   TEXT NOT NULL,
    store_uuid     TEXT NOT NULL,
    device_uuid    TEXT,
    employee_uuid  TEXT,
    shift_id       TEXT,
    type           TEXT NOT NULL,
    payment_source TEXT,
    date_time      TIMESTAMPTZ,
    total_amount   TEXT,
    total_tax      TEXT,
    total_discount TEXT,
    raw            BYTEA NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX receipts_owner ON receipts (owner_id, id);

CREATE TABLE receipt_items (
    receipt_id  TEXT NOT NULL,
    position    INTEGER NOT NULL,
    item_uuid   TEXT NOT NULL,
    name        TEXT,
    item_type   TEXT,
    quantity    TEXT,
    price       TEXT,
    sum_price   TEXT,
    tax         TEXT,
    discount    TEXT,
    PRIMARY KEY (receipt_id, position)
);

-- +goose Down
DROP TABLE receipt_items;
DROP TABLE receipts;
DROP TABLE documents;
DROP TABLE product_barcodes;
DROP TABLE products;
