DELETE FROM loyalty_queue
WHERE (credential, sale_id) IN (SELECT credential, sale_id FROM stg_loyalty)
