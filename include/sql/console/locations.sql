-- Every Trident1 location each credential reported, with its open held records (Store mappings page).
SELECT l.credential, l.location_id, l.name, l.timezone, l.active, l.last_seen_at,
       (SELECT COUNT(*) FROM quarantine AS q
        WHERE q.credential = l.credential AND q.location_id = l.location_id
          AND q.held = TRUE AND q.released_at IS NULL) AS held_records
FROM trident1_locations AS l
ORDER BY l.credential, l.location_id
