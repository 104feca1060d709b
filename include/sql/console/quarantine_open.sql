-- Open quarantine rows, newest first, filtered (an empty filter matches everything).
SELECT quarantine_id, credential, entity, record_key, location_id, held, reason_code, reasons, payload,
       run_id, quarantined_at, quarantined_on, last_seen_at
FROM quarantine
WHERE released_at IS NULL
  AND (:credential = '' OR credential = :credential)
  AND (:entity = '' OR entity = :entity)
  AND (:reason = '' OR reason_code = :reason)
  AND (:location = '' OR location_id = :location)
  AND (:day = '' OR quarantined_on = :day_value)
  AND (:kind = '' OR (:kind = 'held' AND held = TRUE) OR (:kind = 'rejected' AND held = FALSE))
ORDER BY quarantined_at DESC, quarantine_id
LIMIT :limit OFFSET :offset
