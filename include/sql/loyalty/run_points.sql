UPDATE etl_runs SET points_earned = :earned, points_reversed = :reversed
WHERE run_id = :run_id AND credential = :credential
