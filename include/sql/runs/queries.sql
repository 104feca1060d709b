-- Every write to etl_runs and etl_run_locations (runs.py): a run's book, rule 27.
-- Each `-- name: <query>` section is one named query, run as `runs/<query>`.

-- name: add_note
-- A note on every row of the run (e.g. what the settings skipped).
UPDATE etl_runs SET notes = CASE WHEN notes IS NULL OR notes = '' THEN :note ELSE notes || ' | ' || :note END
WHERE run_id = :run_id

-- name: add_opt_ins_sent
-- The texts sent in the run, on the row of the credential feeding each store.
UPDATE etl_runs SET opt_ins_sent = :sent WHERE run_id = :run_id AND credential = :credential

-- name: add_points
-- Loyalty's points of the run, on each credential's row.
UPDATE etl_runs SET points_earned = :earned, points_reversed = :reversed
WHERE run_id = :run_id AND credential = :credential

-- name: clear_locations
DELETE FROM etl_run_locations WHERE run_id = :run_id AND credential = :credential

-- name: config_failed
-- Rule 7: a configuration that fails writes this one row (credential '*') and nothing else.
INSERT INTO etl_runs (run_id, credential, business_date, status, started_at, finished_at, notes)
VALUES (:run_id, :credential, :business_date, 'failed', :now, :now, :notes)
ON CONFLICT (run_id, credential) DO UPDATE SET
    status = 'failed', finished_at = excluded.finished_at, notes = excluded.notes

-- name: finish
UPDATE etl_runs SET
    status = :status, finished_at = :now, records_read = :records_read, sales_read = :sales_read,
    refunds_read = :refunds_read, customers_read = :customers_read, loaded = :loaded,
    updated = :updated, unchanged = :unchanged, quarantined = :quarantined, held = :held,
    released = :released, refunds_loaded = :refunds_loaded, personas_created = :personas_created,
    personas_merged = :personas_merged, step_seconds = :step_seconds, notes = :notes
WHERE run_id = :run_id AND credential = :credential

-- name: location
-- One row per location and credential of the run (rule 27).
INSERT INTO etl_run_locations (run_id, credential, location_id, store_id, records_read, loaded,
    updated, unchanged, quarantined, held, released, refunds_loaded)
VALUES (:run_id, :credential, :location_id, :store_id, :records_read, :loaded,
    :updated, :unchanged, :quarantined, :held, :released, :refunds_loaded)
ON CONFLICT (run_id, credential, location_id) DO UPDATE SET
    store_id = excluded.store_id, records_read = excluded.records_read, loaded = excluded.loaded,
    updated = excluded.updated, unchanged = excluded.unchanged, quarantined = excluded.quarantined,
    held = excluded.held, released = excluded.released, refunds_loaded = excluded.refunds_loaded

-- name: recent_volume
-- Each credential's average records read per successful run since :since (shards.py sizes
-- the ingest shards by it).
SELECT credential, AVG(records_read) AS records
FROM etl_runs
WHERE status = 'success' AND credential <> '*' AND started_at >= :since
GROUP BY credential

-- name: succeeded
-- The credentials of a run that loaded (a retried ingest shard skips them).
SELECT credential FROM etl_runs WHERE run_id = :run_id AND status = 'success' AND credential <> '*'

-- name: start
-- A retried task starts its row again: counts are per attempt, the last attempt wins.
INSERT INTO etl_runs (run_id, credential, business_date, window_start, window_end, status, started_at)
VALUES (:run_id, :credential, :business_date, :window_start, :window_end, 'running', :now)
ON CONFLICT (run_id, credential) DO UPDATE SET
    business_date = excluded.business_date, window_start = excluded.window_start,
    window_end = excluded.window_end, status = 'running', started_at = excluded.started_at,
    finished_at = NULL, notes = NULL
