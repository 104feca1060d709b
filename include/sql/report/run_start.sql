-- A retried task starts its row again: counts are per attempt, the last attempt wins.
INSERT INTO etl_runs (run_id, credential, business_date, window_start, window_end, status, started_at)
VALUES (:run_id, :credential, :business_date, :window_start, :window_end, 'running', :now)
ON CONFLICT (run_id, credential) DO UPDATE SET
    business_date = excluded.business_date, window_start = excluded.window_start,
    window_end = excluded.window_end, status = 'running', started_at = excluded.started_at,
    finished_at = NULL, notes = NULL
