INSERT INTO etl_runs (run_id, credential, business_date, status, started_at, finished_at, notes)
VALUES (:run_id, :credential, :business_date, 'failed', :now, :now, :notes)
ON CONFLICT (run_id, credential) DO UPDATE SET
    status = 'failed', finished_at = excluded.finished_at, notes = excluded.notes
