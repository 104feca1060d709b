-- Rule 16: a page of the earn candidates (loyalty/earn_stage), :page_size after the key
-- (:after_credential, :after_sale_id), so memory does not follow the day; the key is compared as a
-- row value, which both databases read from stg_earn_key.
SELECT credential, sale_id, persona_id, store_id, eligible_cents
FROM stg_earn
WHERE (credential, sale_id) > (:after_credential, :after_sale_id)
ORDER BY credential, sale_id
LIMIT :page_size
