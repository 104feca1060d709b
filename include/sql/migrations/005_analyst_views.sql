-- 005: views for analysts and admins; quarantine gets its first reason code and day.

ALTER TABLE quarantine ADD COLUMN reason_code VARCHAR(50);
ALTER TABLE quarantine ADD COLUMN quarantined_on DATE;

-- Sales by product category per store and local business day (voided sales excluded).
CREATE VIEW daily_category_sales AS
SELECT s.store_id, s.business_date, i.category,
       COUNT(DISTINCT s.credential || ':' || s.sale_id) AS sales,
       SUM(i.quantity) AS quantity,
       ROUND(SUM(i.quantity * i.unit_price - i.discount), 2) AS net_sales
FROM sales AS s
JOIN sale_items AS i ON i.credential = s.credential AND i.sale_id = s.sale_id
WHERE s.status <> 'voided'
GROUP BY s.store_id, s.business_date, i.category;

-- Quarantine by first reason and the (UTC) day a record was first met.
CREATE VIEW quarantine_daily AS
SELECT credential, entity, held, reason_code, quarantined_on,
       COUNT(*) AS records,
       SUM(CASE WHEN released_at IS NULL THEN 1 ELSE 0 END) AS still_open
FROM quarantine
GROUP BY credential, entity, held, reason_code, quarantined_on;

-- Every Trident1 location with its mapped store (or none) and what is held for it:
-- the list an admin maps from.
CREATE VIEW location_mappings AS
SELECT l.credential, l.location_id, l.name, l.timezone, l.active, m.store_id,
       (SELECT COUNT(*) FROM quarantine AS q
        WHERE q.credential = l.credential AND q.location_id = l.location_id
          AND q.held = TRUE AND q.released_at IS NULL) AS held_records
FROM trident1_locations AS l
LEFT JOIN store_mappings AS m ON m.credential = l.credential AND m.location_id = l.location_id;

CREATE VIEW unmapped_locations AS
SELECT credential, location_id, name, timezone, active, held_records
FROM location_mappings
WHERE store_id IS NULL;
