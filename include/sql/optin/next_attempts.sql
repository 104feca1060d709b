-- Rule 23: the next attempt only after the previous one expired unanswered.
SELECT r.persona_id, r.attempt + 1 AS attempt, p.phone,
       (SELECT s2.store_id FROM sales AS s2 WHERE s2.persona_id = p.persona_id
        ORDER BY s2.sold_at DESC, s2.sale_id DESC LIMIT 1) AS store_id
FROM opt_in_requests AS r
JOIN personas AS p ON p.persona_id = r.persona_id
WHERE r.status = 'expired'
  AND r.attempt < :max_requests
  AND r.attempt = (SELECT MAX(x.attempt) FROM opt_in_requests AS x WHERE x.persona_id = r.persona_id)
  AND p.phone IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM sms_opt_outs AS o WHERE o.phone = p.phone)
ORDER BY r.persona_id
