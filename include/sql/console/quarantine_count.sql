SELECT COUNT(*) AS n
FROM quarantine
WHERE released_at IS NULL
  AND (:credential = '' OR credential = :credential)
  AND (:entity = '' OR entity = :entity)
  AND (:reason = '' OR reason_code = :reason)
  AND (:location = '' OR location_id = :location)
  AND (:day = '' OR quarantined_on = :day_value)
  AND (:kind = '' OR (:kind = 'held' AND held = TRUE) OR (:kind = 'rejected' AND held = FALSE))
