INSERT INTO trident1_discounts (credential, discount_id, code, name, discount_type, value,
    in_store_only, active, last_seen_at)
VALUES (:credential, :discount_id, :code, :name, :discount_type, :value,
    :in_store_only, :active, :now)
ON CONFLICT (credential, discount_id) DO UPDATE SET
    code = excluded.code, name = excluded.name, discount_type = excluded.discount_type,
    value = excluded.value, in_store_only = excluded.in_store_only, active = excluded.active,
    last_seen_at = excluded.last_seen_at
