DELETE FROM etl_run_locations WHERE run_id = :run_id AND credential = :credential
