UPDATE opt_in_requests SET status = 'sent', sent_at = :now, message_id = :message_id
WHERE persona_id = :persona_id AND attempt = :attempt AND status = 'pending'
