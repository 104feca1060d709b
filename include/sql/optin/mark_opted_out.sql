UPDATE opt_in_requests SET status = 'opted_out'
WHERE persona_id = :persona_id AND attempt = :attempt AND status = 'pending'
