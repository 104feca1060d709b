-- Named queries of loyalty (loyalty/points.py).
-- Each `-- name: <query>` section is one named query, run as `loyalty/<query>`.

-- name: enroll
-- Rule 4, one row per persona whose enrolment is new or moved (Warehouse.bulk).
UPDATE personas SET loyalty_member = TRUE, loyalty_enrolled_at = :enrolled_at, updated_at = :updated_at
WHERE persona_id = :persona_id

-- name: unenroll
-- Rule 4, from the data alone: a member none of whose purchases qualifies any more (its only
-- sale was voided) was never eligible, as a warehouse that first saw the sale voided knows.
UPDATE personas SET loyalty_member = FALSE, loyalty_enrolled_at = NULL, updated_at = :now
WHERE persona_id = :persona_id

-- name: enrolled_personas
SELECT persona_id, loyalty_enrolled_at FROM personas
WHERE loyalty_member = TRUE
  AND persona_id IN (SELECT persona_id FROM stg_loyalty WHERE persona_id IS NOT NULL)

-- name: insert_entry
-- Rule 17: append-only; the idempotency key makes a rerun write nothing twice.
INSERT INTO loyalty_ledger (entry_id, idempotency_key, persona_id, store_id, credential, sale_id,
    refund_id, entry_type, points, run_id, created_at)
VALUES (:entry_id, :idempotency_key, :persona_id, :store_id, :credential, :sale_id,
    :refund_id, :entry_type, :points, :run_id, :created_at)
ON CONFLICT (idempotency_key) DO NOTHING

-- name: insert_reconciliation
INSERT INTO refund_reconciliations (credential, refund_id, sale_id, persona_id, points_reversed,
    points_restored, balance_after, negative_balance, reconciled_at, run_id)
VALUES (:credential, :refund_id, :sale_id, :persona_id, :points_reversed, :points_restored,
    :balance_after, :negative_balance, :now, :run_id)
ON CONFLICT (credential, refund_id) DO NOTHING

-- name: insert_redemption
-- Rule 21: once per sale × AIQ discount (Warehouse.bulk).
INSERT INTO discount_redemptions (credential, sale_id, aiq_discount_id, persona_id,
    trident1_discount_id, points, redeemed_at, run_id)
VALUES (:credential, :sale_id, :aiq_discount_id, :persona_id, :trident1_discount_id, :points,
    :redeemed_at, :run_id)
ON CONFLICT (credential, sale_id, aiq_discount_id) DO NOTHING

-- name: insert_void_reconciliation
INSERT INTO void_reconciliations (credential, sale_id, persona_id, points_reversed,
    points_restored, balance_after, negative_balance, reconciled_at, run_id)
VALUES (:credential, :sale_id, :persona_id, :points_reversed, :points_restored,
    :balance_after, :negative_balance, :now, :run_id)
ON CONFLICT (credential, sale_id) DO NOTHING

-- name: lock
-- SQLite: BEGIN IMMEDIATE already serialises writers.

-- name: queue_all
-- The loyalty settings changed (or this is the first run): every sale is worked through once.
-- Most sales are queued already (the load queues every changed sale): an anti-join finds the
-- rest instead of trying every sale against the queue's key.
INSERT INTO loyalty_queue (credential, sale_id)
SELECT s.credential, s.sale_id FROM sales AS s
WHERE NOT EXISTS (SELECT 1 FROM loyalty_queue AS q WHERE q.credential = s.credential AND q.sale_id = s.sale_id)
ON CONFLICT (credential, sale_id) DO NOTHING

-- name: queue_done
DELETE FROM loyalty_queue
WHERE (credential, sale_id) IN (SELECT credential, sale_id FROM stg_loyalty)

-- name: state_get
SELECT state_value FROM loyalty_state WHERE state_key = :state_key

-- name: state_set
INSERT INTO loyalty_state (state_key, state_value) VALUES (:state_key, :state_value)
ON CONFLICT (state_key) DO UPDATE SET state_value = excluded.state_value

-- name: waiting_refunds
-- Refunds whose sale is not in the warehouse yet (their sale stays queued).
SELECT COUNT(*) FROM loyalty_queue AS q
JOIN refunds AS r ON r.credential = q.credential AND r.sale_id = q.sale_id
WHERE NOT EXISTS (SELECT 1 FROM sales AS s WHERE s.credential = q.credential AND s.sale_id = q.sale_id)

-- name: work_add_persona_sales
-- A member's enrolment moved earlier: all their sales are worked through again.
INSERT INTO stg_loyalty (credential, sale_id, persona_id)
SELECT s.credential, s.sale_id, s.persona_id
FROM sales AS s
WHERE s.persona_id = :persona_id
  AND NOT EXISTS (SELECT 1 FROM stg_loyalty AS k WHERE k.credential = s.credential AND k.sale_id = s.sale_id)

-- name: work_analyze
-- SQLite plans the work's joins by index without statistics: nothing to do.

-- name: earn_analyze
-- SQLite plans the earn candidates by index without statistics: nothing to do.

-- name: work_refunded
-- Merchandise already refunded on this run's sales by reconciled refunds.
SELECT r.credential, r.sale_id, SUM(r.amount) AS amount
FROM stg_loyalty AS k
JOIN refunds AS r ON r.credential = k.credential AND r.sale_id = k.sale_id
JOIN refund_reconciliations AS x ON x.credential = r.credential AND x.sale_id = r.sale_id
    AND x.refund_id = r.refund_id
GROUP BY r.credential, r.sale_id
