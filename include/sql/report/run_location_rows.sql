SELECT * FROM etl_run_locations WHERE run_id = :run_id ORDER BY credential, location_id
