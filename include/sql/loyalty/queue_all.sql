-- The loyalty settings changed (or this is the first run): every sale is worked through once.
INSERT INTO loyalty_queue (credential, sale_id)
SELECT credential, sale_id FROM sales
WHERE TRUE
ON CONFLICT (credential, sale_id) DO NOTHING
