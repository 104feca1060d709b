INSERT INTO trident1_locations (credential, location_id, name, timezone, phone, active,
    address_line1, address_line2, city, state, postal_code, country, last_seen_at)
VALUES (:credential, :location_id, :name, :timezone, :phone, :active,
    :address_line1, :address_line2, :city, :state, :postal_code, :country, :now)
ON CONFLICT (credential, location_id) DO UPDATE SET
    name = excluded.name, timezone = excluded.timezone, phone = excluded.phone,
    active = excluded.active, address_line1 = excluded.address_line1,
    address_line2 = excluded.address_line2, city = excluded.city, state = excluded.state,
    postal_code = excluded.postal_code, country = excluded.country,
    last_seen_at = excluded.last_seen_at
