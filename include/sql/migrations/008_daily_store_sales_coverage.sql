-- 008: daily_store_sales marks the days no run has covered (issue 13).
-- A row per store and local business day that has sales, refunds, or a successful run that
-- processed that business day for a location mapped to the store; `covered` is true only in
-- the last case. A day with sales but `covered` false was seen only through a later run's
-- look-back (its figures may be incomplete); a covered day with no sales has a row of zeros,
-- so "no row" means no run and no data, never "no sales".
DROP VIEW daily_store_sales;

CREATE VIEW daily_store_sales AS
SELECT store_id,
       business_date,
       SUM(sales)                AS sales,
       ROUND(SUM(net_sales), 2)  AS net_sales,
       ROUND(SUM(refunds), 2)    AS refunds,
       SUM(personas)             AS personas,
       MAX(covered) = 1          AS covered
FROM (
    SELECT store_id, business_date, COUNT(*) AS sales,
           SUM(subtotal - discount_total) AS net_sales,
           0 AS refunds, COUNT(DISTINCT persona_id) AS personas, 0 AS covered
    FROM sales
    WHERE status <> 'voided'
    GROUP BY store_id, business_date
    UNION ALL
    SELECT store_id, business_date, 0, 0, SUM(amount), 0, 0
    FROM refunds
    GROUP BY store_id, business_date
    UNION ALL
    SELECT DISTINCT l.store_id, r.business_date, 0, 0, 0, 0, 1
    FROM etl_run_locations AS l
    JOIN etl_runs AS r ON r.run_id = l.run_id AND r.credential = l.credential
    WHERE r.status = 'success' AND l.store_id IS NOT NULL AND r.business_date IS NOT NULL
) AS parts
GROUP BY store_id, business_date;
