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
