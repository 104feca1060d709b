INSERT INTO stg_refunds_read (credential, refund_id)
SELECT credential, refund_id FROM stg_refunds WHERE refund_id IS NOT NULL;

-- Refunds never change after they are created: the first load wins, reruns add nothing.
DELETE FROM stg_refunds
WHERE EXISTS (SELECT 1 FROM refunds AS r
              WHERE r.credential = stg_refunds.credential AND r.refund_id = stg_refunds.refund_id);

INSERT INTO refunds (credential, refund_id, sale_id, location_id, store_id, refunded_at,
    business_date, amount, tax, total, reason, loaded_at, run_id)
SELECT credential, refund_id, sale_id, location_id, store_id, refunded_at,
       business_date, amount, tax, total, reason, loaded_at, run_id
FROM stg_refunds
WHERE TRUE
ON CONFLICT (credential, refund_id) DO NOTHING;

-- A new refund queues its sale for reconciliation (migration 006).
INSERT INTO loyalty_queue (credential, sale_id)
SELECT DISTINCT credential, sale_id FROM stg_refunds
WHERE sale_id IS NOT NULL
ON CONFLICT (credential, sale_id) DO NOTHING
