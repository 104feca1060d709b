-- Records held for a location that had no mapping (rule 6), oldest first.
SELECT entity, record_key, location_id, payload
FROM quarantine
WHERE credential = :credential AND held = TRUE AND released_at IS NULL
ORDER BY quarantined_at, record_key
