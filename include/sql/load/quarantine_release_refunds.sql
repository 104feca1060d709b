-- A valid refund of a mapped location, staged by this chunk (new or loaded before), releases its
-- open quarantine or held row. Only what this chunk staged: a loaded refund re-read under a
-- location that lost its mapping is held again like its sale, whatever the chunk boundaries.
UPDATE quarantine SET released_at = :now, released_by_run = :run_id
WHERE released_at IS NULL AND entity = 'refund' AND credential = :credential
  AND record_key IN (SELECT refund_id FROM stg_refunds_read WHERE credential = :credential)
