-- updated_at moves only when the mapping changes.
INSERT INTO store_mappings (credential, location_id, store_id, updated_at)
VALUES (:credential, :location_id, :store_id, :now)
ON CONFLICT (credential, location_id) DO UPDATE SET
    store_id = excluded.store_id, updated_at = excluded.updated_at
WHERE store_mappings.store_id <> excluded.store_id
