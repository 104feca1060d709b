-- A valid version of a quarantined or held sale releases it.
UPDATE quarantine SET released_at = :now, released_by_run = :run_id
WHERE released_at IS NULL AND entity = 'sale' AND credential = :credential
  AND record_key IN (SELECT sale_id FROM stg_sales WHERE credential = :credential AND sale_id IS NOT NULL)
