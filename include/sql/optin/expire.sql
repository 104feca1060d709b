-- Rule 25: a request with no reply after 7 days expires.
UPDATE opt_in_requests SET status = 'expired' WHERE status = 'sent' AND sent_at <= :cutoff
