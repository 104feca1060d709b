-- Rule 25: STOP opts the number out of every open request.
UPDATE opt_in_requests SET status = 'opted_out', responded_at = :at
WHERE phone = :phone AND status IN ('pending', 'sent')
