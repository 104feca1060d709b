-- Sales loaded per credential, location and local business day (voided included: they arrived).
SELECT credential, location_id, business_date AS day, COUNT(*) AS n
FROM sales
WHERE business_date >= :first AND business_date <= :last
GROUP BY credential, location_id, business_date
