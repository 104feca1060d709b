-- Rule 10: one open row per (credential, entity, record_key); meeting the record
-- again refreshes its reasons, payload and latest run.
INSERT INTO quarantine (quarantine_id, credential, entity, record_key, location_id, held,
    reasons, reason_code, payload, run_id, first_run_id, quarantined_at, quarantined_on, last_seen_at)
VALUES (:quarantine_id, :credential, :entity, :record_key, :location_id, :held,
    :reasons, :reason_code, :payload, :run_id, :run_id, :now, :today, :now)
ON CONFLICT (credential, entity, record_key) WHERE released_at IS NULL DO UPDATE SET
    location_id = excluded.location_id, held = excluded.held, reasons = excluded.reasons,
    reason_code = excluded.reason_code, payload = excluded.payload, run_id = excluded.run_id,
    last_seen_at = excluded.last_seen_at
