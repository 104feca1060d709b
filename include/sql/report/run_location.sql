INSERT INTO etl_run_locations (run_id, credential, location_id, store_id, records_read, loaded,
    updated, unchanged, quarantined, held, released, refunds_loaded)
VALUES (:run_id, :credential, :location_id, :store_id, :records_read, :loaded,
    :updated, :unchanged, :quarantined, :held, :released, :refunds_loaded)
ON CONFLICT (run_id, credential, location_id) DO UPDATE SET
    store_id = excluded.store_id, records_read = excluded.records_read, loaded = excluded.loaded,
    updated = excluded.updated, unchanged = excluded.unchanged, quarantined = excluded.quarantined,
    held = excluded.held, released = excluded.released, refunds_loaded = excluded.refunds_loaded
