SELECT location_id, COUNT(*) AS refunds_loaded FROM stg_refunds GROUP BY location_id
