-- Quarantine rows per credential, location and the UTC day they were first met; open ones apart.
SELECT credential, location_id, quarantined_on AS day, held,
       COUNT(*) AS n,
       SUM(CASE WHEN released_at IS NULL THEN 1 ELSE 0 END) AS still_open
FROM quarantine
WHERE quarantined_on >= :first AND quarantined_on <= :last
GROUP BY credential, location_id, quarantined_on, held
