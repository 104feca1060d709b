-- Refunds never change once created: one already loaded is skipped when read again.
SELECT r.refund_id AS record_id
FROM stg_seen AS k
JOIN refunds AS r ON r.credential = k.credential AND r.refund_id = k.record_id
