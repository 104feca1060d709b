UPDATE etl_runs SET
    status = :status, finished_at = :now, records_read = :records_read, sales_read = :sales_read,
    refunds_read = :refunds_read, customers_read = :customers_read, loaded = :loaded,
    updated = :updated, unchanged = :unchanged, quarantined = :quarantined, held = :held,
    released = :released, refunds_loaded = :refunds_loaded, personas_created = :personas_created,
    personas_merged = :personas_merged, step_seconds = :step_seconds, notes = :notes
WHERE run_id = :run_id AND credential = :credential
