SELECT entry_type, SUM(points) AS points
FROM loyalty_ledger
WHERE credential = :credential AND sale_id = :sale_id
GROUP BY entry_type
