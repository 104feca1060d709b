SELECT * FROM etl_runs WHERE run_id = :run_id ORDER BY credential
