-- Rule 22: a phone, a purchase on or after purchased_after, and no earlier request,
-- opt-in or opt-out. The store is the store of the persona's most recent sale (rule 24).
SELECT p.persona_id, p.phone,
       (SELECT s2.store_id FROM sales AS s2 WHERE s2.persona_id = p.persona_id
        ORDER BY s2.sold_at DESC, s2.sale_id DESC LIMIT 1) AS store_id
FROM personas AS p
WHERE p.phone IS NOT NULL
  AND EXISTS (SELECT 1 FROM sales AS s
              WHERE s.persona_id = p.persona_id AND s.business_date >= :purchased_after
                AND s.status IN ('completed', 'refunded', 'partially_refunded'))
  AND NOT EXISTS (SELECT 1 FROM opt_in_requests AS r WHERE r.persona_id = p.persona_id)
  AND NOT EXISTS (SELECT 1 FROM opt_in_requests AS r2 WHERE r2.phone = p.phone)
  AND NOT EXISTS (SELECT 1 FROM sms_opt_outs AS o WHERE o.phone = p.phone)
ORDER BY p.persona_id
