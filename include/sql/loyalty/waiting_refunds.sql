-- Refunds whose sale is not in the warehouse yet (their sale stays queued).
SELECT COUNT(*) FROM loyalty_queue AS q
JOIN refunds AS r ON r.credential = q.credential AND r.sale_id = q.sale_id
WHERE NOT EXISTS (SELECT 1 FROM sales AS s WHERE s.credential = q.credential AND s.sale_id = q.sale_id)
