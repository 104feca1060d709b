INSERT INTO stg_sale_discounts (credential, sale_id, discount_id, code, name, amount, in_store_only)
VALUES (:credential, :sale_id, :discount_id, :code, :name, :amount, :in_store_only)
