DELETE FROM loyalty_queue
WHERE EXISTS (SELECT 1 FROM stg_loyalty AS k
              WHERE k.credential = loyalty_queue.credential AND k.sale_id = loyalty_queue.sale_id)
