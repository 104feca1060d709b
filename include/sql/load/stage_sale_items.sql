INSERT INTO stg_sale_items (credential, sale_id, line_id, sku, name, category, quantity,
    unit_price, discount, tax, total)
VALUES (:credential, :sale_id, :line_id, :sku, :name, :category, :quantity,
    :unit_price, :discount, :tax, :total)
