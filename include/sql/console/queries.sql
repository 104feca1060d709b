-- Named queries of the console (console/data.py): reads only.
-- Each `-- name: <query>` section is one named query, run as `console/<query>`.

-- name: held_by_location
-- Open held records per location (a mapped location the API no longer lists still counts).
SELECT credential, location_id, COUNT(*) AS held_records
FROM quarantine
WHERE held = TRUE AND released_at IS NULL
GROUP BY credential, location_id

-- name: last_run_locations
-- Per-location counts of a credential's latest run.
SELECT credential, location_id, store_id, records_read, loaded, updated, quarantined, held, released
FROM etl_run_locations
WHERE run_id = :run_id AND credential = :credential

-- name: last_runs
-- The latest run row of each credential (credential '*' is a run that failed its configuration check).
SELECT r.run_id, r.credential, r.business_date, r.status, r.started_at, r.finished_at, r.notes,
       r.loaded, r.released, r.held, r.quarantined
FROM etl_runs AS r
WHERE r.started_at = (SELECT MAX(x.started_at) FROM etl_runs AS x WHERE x.credential = r.credential)
ORDER BY r.credential

-- name: locations
-- Every Trident1 location each credential reported, with its open held records (Store mappings page).
SELECT l.credential, l.location_id, l.name, l.timezone, l.active, l.last_seen_at,
       (SELECT COUNT(*) FROM quarantine AS q
        WHERE q.credential = l.credential AND q.location_id = l.location_id
          AND q.held = TRUE AND q.released_at IS NULL) AS held_records
FROM trident1_locations AS l
ORDER BY l.credential, l.location_id

-- name: newest_sales
-- The newest loaded sale per credential and location (freshness: the 24-hour promise).
SELECT credential, location_id, MAX(sold_at) AS newest_sale
FROM sales
GROUP BY credential, location_id

-- name: quarantine_by_day
-- Quarantine rows per credential, location and the record's own business day (rule 9, as sales are
-- counted; a record whose time could not be read: the UTC day it was first met); open ones apart.
SELECT credential, location_id, COALESCE(business_date, quarantined_on) AS day, held,
       COUNT(*) AS n,
       SUM(CASE WHEN released_at IS NULL THEN 1 ELSE 0 END) AS still_open
FROM quarantine
WHERE COALESCE(business_date, quarantined_on) >= :first AND COALESCE(business_date, quarantined_on) <= :last
GROUP BY credential, location_id, COALESCE(business_date, quarantined_on), held

-- name: open_quarantine_by_location
-- Open quarantine rows per credential and location, held and rejected apart, whatever their day
-- (the health page's "held now" and "rejected (open)": what the Quarantine page lists).
SELECT credential, location_id, held, COUNT(*) AS n
FROM quarantine
WHERE released_at IS NULL
GROUP BY credential, location_id, held

-- name: quarantine_count
SELECT COUNT(*) AS n
FROM quarantine
WHERE released_at IS NULL
  AND (:credential = '' OR credential = :credential)
  AND (:entity = '' OR entity = :entity)
  AND (:reason = '' OR reason_code = :reason)
  AND (:location = '' OR location_id = :location)
  AND (:day = '' OR COALESCE(business_date, quarantined_on) = :day_value)
  AND (:kind = '' OR (:kind = 'held' AND held = TRUE) OR (:kind = 'rejected' AND held = FALSE))

-- name: quarantine_facets
-- The values the quarantine filters offer.
SELECT DISTINCT credential, entity, reason_code, COALESCE(business_date, quarantined_on) AS day
FROM quarantine
WHERE released_at IS NULL

-- name: quarantine_open
-- Open quarantine rows, newest first, filtered (an empty filter matches everything).
SELECT quarantine_id, credential, entity, record_key, location_id, held, reason_code, reasons, payload,
       run_id, quarantined_at, quarantined_on, COALESCE(business_date, quarantined_on) AS day, last_seen_at
FROM quarantine
WHERE released_at IS NULL
  AND (:credential = '' OR credential = :credential)
  AND (:entity = '' OR entity = :entity)
  AND (:reason = '' OR reason_code = :reason)
  AND (:location = '' OR location_id = :location)
  AND (:day = '' OR COALESCE(business_date, quarantined_on) = :day_value)
  AND (:kind = '' OR (:kind = 'held' AND held = TRUE) OR (:kind = 'rejected' AND held = FALSE))
ORDER BY quarantined_at DESC, quarantine_id
LIMIT :limit OFFSET :offset

-- name: refunds_by_day
-- Refunds loaded per credential, location and local business day.
SELECT credential, location_id, business_date AS day, COUNT(*) AS n
FROM refunds
WHERE business_date >= :first AND business_date <= :last
GROUP BY credential, location_id, business_date

-- name: runs_by_day
-- Every run row of the window: which business days each credential has had a run for, and how it went.
SELECT run_id, credential, business_date AS day, status, started_at, finished_at,
       points_earned, points_reversed, opt_ins_sent, released, held, quarantined, loaded
FROM etl_runs
WHERE business_date >= :first AND business_date <= :last
ORDER BY started_at

-- name: sales_by_day
-- Sales loaded per credential, location and local business day (voided included: they arrived).
SELECT credential, location_id, business_date AS day, COUNT(*) AS n
FROM sales
WHERE business_date >= :first AND business_date <= :last
GROUP BY credential, location_id, business_date
