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

-- name: warehouse_totals
-- Everything the warehouse holds, every day and every run (the end of `make run`'s summary).
SELECT (SELECT COUNT(*) FROM sales) AS sales,
       (SELECT COUNT(*) FROM sale_items) AS sale_lines,
       (SELECT COUNT(*) FROM refunds) AS refunds,
       (SELECT COUNT(*) FROM personas) AS personas,
       (SELECT COUNT(*) FROM personas WHERE loyalty_member = TRUE) AS loyalty_members,
       (SELECT COUNT(*) FROM quarantine WHERE released_at IS NULL AND held = FALSE) AS rejected_open,
       (SELECT COUNT(*) FROM quarantine WHERE released_at IS NULL AND held = TRUE) AS held_open,
       (SELECT COALESCE(SUM(points), 0) FROM loyalty_ledger WHERE entry_type = 'earn') AS points_earned,
       (SELECT COALESCE(-SUM(points), 0) FROM loyalty_ledger WHERE entry_type = 'earn_reversal') AS points_reversed,
       (SELECT COUNT(*) FROM discount_redemptions) AS discount_redemptions,
       (SELECT COUNT(*) FROM refund_reconciliations) AS refunds_reconciled,
       (SELECT COUNT(*) FROM opt_in_requests WHERE status = 'sent') AS opt_ins_sent,
       (SELECT COUNT(*) FROM opt_in_requests WHERE status = 'pending') AS opt_ins_pending

-- name: store_day
-- daily_store_sales of one business day (money as the view rounds it).
SELECT store_id, sales, net_sales, refunds, personas FROM daily_store_sales
WHERE business_date = :business_date ORDER BY store_id
