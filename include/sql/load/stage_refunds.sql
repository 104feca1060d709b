INSERT INTO stg_refunds (credential, refund_id, sale_id, location_id, store_id, refunded_at,
    business_date, amount, tax, total, reason, loaded_at, run_id)
VALUES (:credential, :refund_id, :sale_id, :location_id, :store_id, :refunded_at,
    :business_date, :amount, :tax, :total, :reason, :loaded_at, :run_id)
