-- Named queries of the load (pipeline.py, load.py): staging, look-ups, catalogue, quarantine.
-- Each `-- name: <query>` section is one named query, run as `load/<query>`.

-- name: analyze_changed
-- SQLite plans the merge's joins by index without statistics: nothing to do.

-- name: analyze_staging
-- SQLite plans the merge's joins by index without statistics: nothing to do.

-- name: changed_by_location
SELECT location_id,
       SUM(CASE WHEN is_new THEN 1 ELSE 0 END) AS loaded,
       SUM(CASE WHEN is_new THEN 0 ELSE 1 END) AS updated
FROM stg_changed
GROUP BY location_id

-- name: held_records
-- Records held for a location that had no mapping (rule 6), oldest first.
SELECT entity, record_key, location_id, payload
FROM quarantine
WHERE credential = :credential AND held = TRUE AND released_at IS NULL
ORDER BY quarantined_at, record_key

-- name: lock
-- SQLite: BEGIN IMMEDIATE already serialises writers.

-- name: new_refunds_by_location
SELECT location_id, COUNT(*) AS refunds_loaded FROM stg_refunds GROUP BY location_id

-- name: quarantine_upsert
-- Rule 10: one open row per (credential, entity, record_key); meeting the record
-- again refreshes its reasons, payload and latest run.
INSERT INTO quarantine (quarantine_id, credential, entity, record_key, location_id, held,
    reasons, reason_code, payload, run_id, first_run_id, quarantined_at, quarantined_on, business_date,
    last_seen_at)
VALUES (:quarantine_id, :credential, :entity, :record_key, :location_id, :held,
    :reasons, :reason_code, :payload, :run_id, :run_id, :now, :today, :business_date, :now)
ON CONFLICT (credential, entity, record_key) WHERE released_at IS NULL DO UPDATE SET
    location_id = excluded.location_id, held = excluded.held, reasons = excluded.reasons,
    reason_code = excluded.reason_code, payload = excluded.payload, run_id = excluded.run_id,
    business_date = excluded.business_date, last_seen_at = excluded.last_seen_at

-- name: seen_analyze
-- SQLite plans the look-up by index without statistics: nothing to do.

-- name: seen_create
-- The ids of a chunk as read, to ask the warehouse which it already has (load/seen_sales, load/seen_refunds).
CREATE TEMPORARY TABLE IF NOT EXISTS stg_seen (credential VARCHAR(100), record_id VARCHAR(210));
CREATE INDEX IF NOT EXISTS stg_seen_key ON stg_seen (credential, record_id);

-- name: seen_empty
DELETE FROM stg_seen

-- name: seen_insert
INSERT INTO stg_seen (credential, record_id) VALUES (:credential, :record_id)

-- name: seen_refunds
-- Refunds never change once created: one already loaded is skipped when read again.
SELECT r.refund_id AS record_id
FROM stg_seen AS k
JOIN refunds AS r ON r.credential = k.credential AND r.refund_id = k.record_id

-- name: seen_sales
-- Rule 8, early: the chunk's sales the warehouse already has, with their version. A record
-- read at the same or an older updated_at changes nothing and skips normalising, validation
-- and staging (an unchanged rerun, or the look-back re-reading earlier days).
SELECT s.sale_id AS record_id, s.updated_at AS version
FROM stg_seen AS k
JOIN sales AS s ON s.credential = k.credential AND s.sale_id = k.record_id

-- name: stage_create
-- Per-connection staging tables for one credential's batch; emptied before each use.
CREATE TEMPORARY TABLE IF NOT EXISTS stg_sales (
    credential VARCHAR(100), sale_id VARCHAR(200), store_id VARCHAR(100), location_id VARCHAR(200),
    persona_id VARCHAR(40), customer_id VARCHAR(200), receipt_number VARCHAR(100), status VARCHAR(30),
    sold_at TIMESTAMP WITH TIME ZONE, business_date DATE, subtotal NUMERIC(12,2),
    discount_total NUMERIC(12,2), tax_total NUMERIC(12,2), total NUMERIC(12,2), currency VARCHAR(3),
    updated_at TIMESTAMP WITH TIME ZONE, loaded_at TIMESTAMP WITH TIME ZONE, run_id VARCHAR(250)
);
CREATE TEMPORARY TABLE IF NOT EXISTS stg_sale_items (
    credential VARCHAR(100), sale_id VARCHAR(200), line_id INTEGER, sku VARCHAR(100), name VARCHAR(500),
    category VARCHAR(200), quantity NUMERIC(12,3), unit_price NUMERIC(12,2), discount NUMERIC(12,2),
    tax NUMERIC(12,2), total NUMERIC(12,2)
);
CREATE TEMPORARY TABLE IF NOT EXISTS stg_sale_discounts (
    credential VARCHAR(100), sale_id VARCHAR(200), discount_id VARCHAR(200), code VARCHAR(100),
    name VARCHAR(500), amount NUMERIC(12,2), in_store_only BOOLEAN
);
CREATE TEMPORARY TABLE IF NOT EXISTS stg_changed (
    credential VARCHAR(100), sale_id VARCHAR(200), location_id VARCHAR(200), is_new BOOLEAN
);
CREATE TEMPORARY TABLE IF NOT EXISTS stg_refunds (
    credential VARCHAR(100), refund_id VARCHAR(200), sale_id VARCHAR(200), location_id VARCHAR(200),
    store_id VARCHAR(100), refunded_at TIMESTAMP WITH TIME ZONE, business_date DATE,
    amount NUMERIC(12,2), tax NUMERIC(12,2), total NUMERIC(12,2), reason VARCHAR(200),
    loaded_at TIMESTAMP WITH TIME ZONE, run_id VARCHAR(250)
);
-- The refunds a chunk staged, before the merge drops those already loaded: what it releases.
CREATE TEMPORARY TABLE IF NOT EXISTS stg_refunds_read (credential VARCHAR(100), refund_id VARCHAR(200));
-- Keys indexed: the merge and release joins probe them whatever the planner guesses.
CREATE INDEX IF NOT EXISTS stg_sales_key ON stg_sales (credential, sale_id);
CREATE INDEX IF NOT EXISTS stg_sale_items_key ON stg_sale_items (credential, sale_id);
CREATE INDEX IF NOT EXISTS stg_sale_discounts_key ON stg_sale_discounts (credential, sale_id);
CREATE INDEX IF NOT EXISTS stg_changed_key ON stg_changed (credential, sale_id);
CREATE INDEX IF NOT EXISTS stg_refunds_key ON stg_refunds (credential, refund_id);

-- name: stage_empty
DELETE FROM stg_sales;
DELETE FROM stg_sale_items;
DELETE FROM stg_sale_discounts;
DELETE FROM stg_changed;
DELETE FROM stg_refunds;
DELETE FROM stg_refunds_read;

-- name: stage_refunds
INSERT INTO stg_refunds (credential, refund_id, sale_id, location_id, store_id, refunded_at,
    business_date, amount, tax, total, reason, loaded_at, run_id)
VALUES (:credential, :refund_id, :sale_id, :location_id, :store_id, :refunded_at,
    :business_date, :amount, :tax, :total, :reason, :loaded_at, :run_id)

-- name: stage_sale_discounts
INSERT INTO stg_sale_discounts (credential, sale_id, discount_id, code, name, amount, in_store_only)
VALUES (:credential, :sale_id, :discount_id, :code, :name, :amount, :in_store_only)

-- name: stage_sale_items
INSERT INTO stg_sale_items (credential, sale_id, line_id, sku, name, category, quantity,
    unit_price, discount, tax, total)
VALUES (:credential, :sale_id, :line_id, :sku, :name, :category, :quantity,
    :unit_price, :discount, :tax, :total)

-- name: stage_sales
INSERT INTO stg_sales (credential, sale_id, store_id, location_id, persona_id, customer_id,
    receipt_number, status, sold_at, business_date, subtotal, discount_total, tax_total, total,
    currency, updated_at, loaded_at, run_id)
VALUES (:credential, :sale_id, :store_id, :location_id, :persona_id, :customer_id,
    :receipt_number, :status, :sold_at, :business_date, :subtotal, :discount_total, :tax_total, :total,
    :currency, :updated_at, :loaded_at, :run_id)

-- name: upsert_discount
INSERT INTO trident1_discounts (credential, discount_id, code, name, discount_type, value,
    in_store_only, active, last_seen_at)
VALUES (:credential, :discount_id, :code, :name, :discount_type, :value,
    :in_store_only, :active, :now)
ON CONFLICT (credential, discount_id) DO UPDATE SET
    code = excluded.code, name = excluded.name, discount_type = excluded.discount_type,
    value = excluded.value, in_store_only = excluded.in_store_only, active = excluded.active,
    last_seen_at = excluded.last_seen_at

-- name: upsert_location
INSERT INTO trident1_locations (credential, location_id, name, timezone, phone, active,
    address_line1, address_line2, city, state, postal_code, country, last_seen_at)
VALUES (:credential, :location_id, :name, :timezone, :phone, :active,
    :address_line1, :address_line2, :city, :state, :postal_code, :country, :now)
ON CONFLICT (credential, location_id) DO UPDATE SET
    name = excluded.name, timezone = excluded.timezone, phone = excluded.phone,
    active = excluded.active, address_line1 = excluded.address_line1,
    address_line2 = excluded.address_line2, city = excluded.city, state = excluded.state,
    postal_code = excluded.postal_code, country = excluded.country,
    last_seen_at = excluded.last_seen_at
