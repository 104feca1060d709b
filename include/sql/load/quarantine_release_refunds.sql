-- A valid version of a quarantined or held refund releases it (staged now, or loaded before).
UPDATE quarantine SET released_at = :now, released_by_run = :run_id
WHERE released_at IS NULL AND entity = 'refund' AND credential = :credential
  AND (record_key IN (SELECT refund_id FROM stg_refunds WHERE credential = :credential AND refund_id IS NOT NULL)
       OR EXISTS (SELECT 1 FROM refunds AS r
                  WHERE r.credential = quarantine.credential AND r.refund_id = quarantine.record_key))
