UPDATE quarantine SET released_at = :now, released_by_run = :run_id
WHERE released_at IS NULL AND entity = 'refund' AND credential = :credential
  AND (EXISTS (SELECT 1 FROM stg_refunds AS s
               WHERE s.credential = quarantine.credential AND s.refund_id = quarantine.record_key)
       OR EXISTS (SELECT 1 FROM refunds AS r
               WHERE r.credential = quarantine.credential AND r.refund_id = quarantine.record_key))
