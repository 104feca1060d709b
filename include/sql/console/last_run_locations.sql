-- Per-location counts of a credential's latest run.
SELECT credential, location_id, store_id, records_read, loaded, updated, quarantined, held, released
FROM etl_run_locations
WHERE run_id = :run_id AND credential = :credential
