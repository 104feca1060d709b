-- Rule 8: a sale is keyed by (credential, sale_id); only a new sale or a newer
-- updated_at writes anything, and a newer version replaces the sale and its lines.
INSERT INTO stg_changed (credential, sale_id, location_id, is_new)
SELECT s.credential, s.sale_id, s.location_id,
       CASE WHEN t.sale_id IS NULL THEN TRUE ELSE FALSE END
FROM stg_sales AS s
LEFT JOIN sales AS t ON t.credential = s.credential AND t.sale_id = s.sale_id
WHERE t.sale_id IS NULL OR s.updated_at > t.updated_at;

-- Loyalty works through new and changed sales only (migration 006).
INSERT INTO loyalty_queue (credential, sale_id)
SELECT credential, sale_id FROM stg_changed
WHERE TRUE
ON CONFLICT (credential, sale_id) DO NOTHING;

DELETE FROM sale_items
WHERE EXISTS (SELECT 1 FROM stg_changed AS c
              WHERE c.credential = sale_items.credential AND c.sale_id = sale_items.sale_id);

DELETE FROM sale_discounts
WHERE EXISTS (SELECT 1 FROM stg_changed AS c
              WHERE c.credential = sale_discounts.credential AND c.sale_id = sale_discounts.sale_id);

INSERT INTO sale_items (credential, sale_id, line_id, sku, name, category, quantity,
    unit_price, discount, tax, total)
SELECT i.credential, i.sale_id, i.line_id, i.sku, i.name, i.category, i.quantity,
       i.unit_price, i.discount, i.tax, i.total
FROM stg_sale_items AS i
JOIN stg_changed AS c ON c.credential = i.credential AND c.sale_id = i.sale_id;

INSERT INTO sale_discounts (credential, sale_id, discount_id, code, name, amount, in_store_only)
SELECT d.credential, d.sale_id, d.discount_id, d.code, d.name, d.amount, d.in_store_only
FROM stg_sale_discounts AS d
JOIN stg_changed AS c ON c.credential = d.credential AND c.sale_id = d.sale_id;

INSERT INTO sales (credential, sale_id, store_id, location_id, persona_id, customer_id,
    receipt_number, status, sold_at, business_date, subtotal, discount_total, tax_total, total,
    currency, updated_at, loaded_at, run_id)
SELECT s.credential, s.sale_id, s.store_id, s.location_id, s.persona_id, s.customer_id,
       s.receipt_number, s.status, s.sold_at, s.business_date, s.subtotal, s.discount_total,
       s.tax_total, s.total, s.currency, s.updated_at, s.loaded_at, s.run_id
FROM stg_sales AS s
JOIN stg_changed AS c ON c.credential = s.credential AND c.sale_id = s.sale_id
WHERE TRUE
ON CONFLICT (credential, sale_id) DO UPDATE SET
    store_id = excluded.store_id, location_id = excluded.location_id,
    persona_id = excluded.persona_id, customer_id = excluded.customer_id,
    receipt_number = excluded.receipt_number, status = excluded.status,
    sold_at = excluded.sold_at, business_date = excluded.business_date,
    subtotal = excluded.subtotal, discount_total = excluded.discount_total,
    tax_total = excluded.tax_total, total = excluded.total, currency = excluded.currency,
    updated_at = excluded.updated_at, loaded_at = excluded.loaded_at, run_id = excluded.run_id;
