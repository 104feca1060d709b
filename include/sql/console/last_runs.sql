-- The latest run row of each credential (credential '*' is a run that failed its configuration check).
SELECT r.run_id, r.credential, r.business_date, r.status, r.started_at, r.finished_at, r.notes,
       r.loaded, r.released, r.held, r.quarantined
FROM etl_runs AS r
WHERE r.started_at = (SELECT MAX(x.started_at) FROM etl_runs AS x WHERE x.credential = r.credential)
ORDER BY r.credential
