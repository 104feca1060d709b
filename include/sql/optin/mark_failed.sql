UPDATE opt_in_requests SET status = 'failed', error = :error
WHERE persona_id = :persona_id AND attempt = :attempt AND status = 'pending'
