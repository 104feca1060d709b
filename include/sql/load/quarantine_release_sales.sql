-- A valid version of a quarantined or held sale releases it.
UPDATE quarantine SET released_at = :now, released_by_run = :run_id
WHERE released_at IS NULL AND entity = 'sale' AND credential = :credential
  AND EXISTS (SELECT 1 FROM stg_sales AS s
              WHERE s.credential = quarantine.credential AND s.sale_id = quarantine.record_key)
