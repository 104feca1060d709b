SELECT COUNT(*) FROM refunds AS r
WHERE NOT EXISTS (SELECT 1 FROM sales AS s WHERE s.credential = r.credential AND s.sale_id = r.sale_id)
