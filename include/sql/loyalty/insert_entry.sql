-- Rule 17: append-only; the idempotency key makes a rerun write nothing twice.
INSERT INTO loyalty_ledger (entry_id, idempotency_key, persona_id, store_id, credential, sale_id,
    refund_id, entry_type, points, run_id, created_at)
VALUES (:entry_id, :idempotency_key, :persona_id, :store_id, :credential, :sale_id,
    :refund_id, :entry_type, :points, :run_id, :created_at)
ON CONFLICT (idempotency_key) DO NOTHING
