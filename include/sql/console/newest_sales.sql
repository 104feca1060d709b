-- The newest loaded sale per credential and location (freshness: the 24-hour promise).
SELECT credential, location_id, MAX(sold_at) AS newest_sale
FROM sales
GROUP BY credential, location_id
