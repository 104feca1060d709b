SELECT r.persona_id, r.attempt, r.phone, r.store_id, r.idempotency_key,
       st.name AS store_name, st.timezone, st.disclaimer
FROM opt_in_requests AS r
LEFT JOIN retail_stores AS st ON st.store_id = r.store_id
WHERE r.status = 'pending'
ORDER BY r.requested_at, r.persona_id, r.attempt
