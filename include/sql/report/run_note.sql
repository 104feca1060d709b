UPDATE etl_runs SET notes = CASE WHEN notes IS NULL OR notes = '' THEN :note ELSE notes || ' | ' || :note END
WHERE run_id = :run_id
