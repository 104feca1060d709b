-- Refunds loaded per credential, location and local business day.
SELECT credential, location_id, business_date AS day, COUNT(*) AS n
FROM refunds
WHERE business_date >= :first AND business_date <= :last
GROUP BY credential, location_id, business_date
