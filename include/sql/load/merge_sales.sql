-- Rule 8: the lines and discounts of a changed sale are replaced (stg_changed: load/changed_sales.sql).
DELETE FROM sale_items
WHERE (credential, sale_id) IN (SELECT credential, sale_id FROM stg_changed);

DELETE FROM sale_discounts
WHERE (credential, sale_id) IN (SELECT credential, sale_id FROM stg_changed);

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
