INSERT INTO opt_in_requests (persona_id, attempt, phone, store_id, status, idempotency_key,
    requested_at, run_id)
VALUES (:persona_id, :attempt, :phone, :store_id, 'pending', :idempotency_key, :now, :run_id)
ON CONFLICT (persona_id, attempt) DO NOTHING
