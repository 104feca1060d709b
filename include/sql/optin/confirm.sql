-- Rule 25: YES to a request sent in the last 7 days confirms it.
UPDATE opt_in_requests SET status = 'confirmed', responded_at = :at
WHERE phone = :phone AND status = 'sent' AND sent_at <= :at AND sent_at > :window_start
