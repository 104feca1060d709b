-- Every run row of the window: which business days each credential has had a run for, and how it went.
SELECT run_id, credential, business_date AS day, status, started_at, finished_at,
       points_earned, points_reversed, opt_ins_sent, released, held, quarantined, loaded
FROM etl_runs
WHERE business_date >= :first AND business_date <= :last
ORDER BY started_at
