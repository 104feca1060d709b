-- Named queries of the run report (report.py): reads only.
-- Each `-- name: <query>` section is one named query, run as `report/<query>`.

-- name: freshness
-- The newest loaded sale of every mapped, active location (null: none yet).
SELECT m.credential, m.location_id, m.store_id, l.timezone, MAX(s.sold_at) AS newest_sale
FROM store_mappings AS m
LEFT JOIN trident1_locations AS l ON l.credential = m.credential AND l.location_id = m.location_id
LEFT JOIN sales AS s ON s.credential = m.credential AND s.location_id = m.location_id
WHERE l.active IS NULL OR l.active = TRUE
GROUP BY m.credential, m.location_id, m.store_id, l.timezone
ORDER BY m.credential, m.location_id

-- name: quarantine_reasons
-- Open quarantine rows met by this run, for the summary.
SELECT credential, held, reasons FROM quarantine WHERE run_id = :run_id AND released_at IS NULL

-- name: run_location_rows
SELECT * FROM etl_run_locations WHERE run_id = :run_id ORDER BY credential, location_id

-- name: run_rows
SELECT * FROM etl_runs WHERE run_id = :run_id ORDER BY credential
