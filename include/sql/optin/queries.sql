-- Named queries of the SMS double opt-in (optin.py).
-- Each `-- name: <query>` section is one named query, run as `optin/<query>`.

-- name: confirm
-- Rule 25: YES to a request sent in the last 7 days confirms it.
UPDATE opt_in_requests SET status = 'confirmed', responded_at = :at
WHERE phone = :phone AND status = 'sent' AND sent_at <= :at AND sent_at > :window_start

-- name: expire
-- Rule 25: a request with no reply after 7 days expires.
UPDATE opt_in_requests SET status = 'expired' WHERE status = 'sent' AND sent_at <= :cutoff

-- name: first_candidates
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

-- name: insert_reply
INSERT INTO sms_replies (reply_id, from_phone, body, action, received_at)
VALUES (:reply_id, :from_phone, :body, :action, :received_at)
ON CONFLICT (reply_id) DO NOTHING

-- name: insert_request
INSERT INTO opt_in_requests (persona_id, attempt, phone, store_id, status, idempotency_key,
    requested_at, run_id)
VALUES (:persona_id, :attempt, :phone, :store_id, 'pending', :idempotency_key, :now, :run_id)
ON CONFLICT (persona_id, attempt) DO NOTHING

-- name: is_opted_out
SELECT COUNT(*) AS n FROM sms_opt_outs WHERE phone = :phone

-- name: latest_reply
SELECT MAX(received_at) AS received_at FROM sms_replies

-- name: lock
-- SQLite: BEGIN IMMEDIATE already serialises writers.

-- name: mark_failed
UPDATE opt_in_requests SET status = 'failed', error = :error
WHERE persona_id = :persona_id AND attempt = :attempt AND status = 'pending'

-- name: mark_opted_out
UPDATE opt_in_requests SET status = 'opted_out'
WHERE persona_id = :persona_id AND attempt = :attempt AND status = 'pending'

-- name: mark_sent
UPDATE opt_in_requests SET status = 'sent', sent_at = :now, message_id = :message_id
WHERE persona_id = :persona_id AND attempt = :attempt AND status = 'pending'

-- name: withdraw
-- Rule 22 no longer holds for a request not sent yet (its only purchase was voided): it goes,
-- leaving the persona as if never asked, so a later purchase may bring a first request again.
DELETE FROM opt_in_requests
WHERE persona_id = :persona_id AND attempt = :attempt AND status = 'pending'

-- name: next_attempts
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
  AND EXISTS (SELECT 1 FROM sales AS s  -- rule 22 still holds: a purchase that was not voided
              WHERE s.persona_id = p.persona_id AND s.business_date >= :purchased_after
                AND s.status IN ('completed', 'refunded', 'partially_refunded'))
  AND NOT EXISTS (SELECT 1 FROM sms_opt_outs AS o WHERE o.phone = p.phone)
ORDER BY r.persona_id

-- name: opt_out
-- Rule 25: STOP opts the number out of every open request.
UPDATE opt_in_requests SET status = 'opted_out', responded_at = :at
WHERE phone = :phone AND status IN ('pending', 'sent')

-- name: pending
-- `eligible`: rule 22 still holds when the text is about to go (a void may have taken the
-- persona's only purchase since the request was created).
SELECT r.persona_id, r.attempt, r.phone, r.store_id, r.idempotency_key,
       st.name AS store_name, st.timezone, st.disclaimer,
       CASE WHEN EXISTS (SELECT 1 FROM sales AS s
                         WHERE s.persona_id = r.persona_id AND s.business_date >= :purchased_after
                           AND s.status IN ('completed', 'refunded', 'partially_refunded'))
            THEN 1 ELSE 0 END AS eligible
FROM opt_in_requests AS r
LEFT JOIN retail_stores AS st ON st.store_id = r.store_id
WHERE r.status = 'pending'
ORDER BY r.requested_at, r.persona_id, r.attempt

-- name: reply_processed
UPDATE sms_replies SET processed_at = :now WHERE reply_id = :reply_id

-- name: suppress
INSERT INTO sms_opt_outs (phone, opted_out_at, reply_id) VALUES (:phone, :at, :reply_id)
ON CONFLICT (phone) DO NOTHING

-- name: unprocessed_replies
SELECT reply_id, from_phone, action, received_at FROM sms_replies
WHERE processed_at IS NULL ORDER BY received_at, reply_id
