SELECT location_id,
       SUM(CASE WHEN is_new THEN 1 ELSE 0 END) AS loaded,
       SUM(CASE WHEN is_new THEN 0 ELSE 1 END) AS updated
FROM stg_changed
GROUP BY location_id
