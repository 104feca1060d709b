-- Named queries that mirror the settings Variables (load.sync_settings).
-- Each `-- name: <query>` section is one named query, run as `settings/<query>`.

-- name: delete_mapping
DELETE FROM store_mappings WHERE credential = :credential AND location_id = :location_id

-- name: select_mappings
SELECT credential, location_id FROM store_mappings

-- name: upsert_mapping
-- updated_at moves only when the mapping changes.
INSERT INTO store_mappings (credential, location_id, store_id, updated_at)
VALUES (:credential, :location_id, :store_id, :now)
ON CONFLICT (credential, location_id) DO UPDATE SET
    store_id = excluded.store_id, updated_at = excluded.updated_at
WHERE store_mappings.store_id <> excluded.store_id

-- name: upsert_store
INSERT INTO retail_stores (store_id, name, nickname, phone, email, venue_id, address_line1,
    address_line2, city, state, postal_code, country, email_domain, disclaimer, sms_signup,
    hide_from_selection, timezone, updated_at)
VALUES (:store_id, :name, :nickname, :phone, :email, :venue_id, :address_line1,
    :address_line2, :city, :state, :postal_code, :country, :email_domain, :disclaimer, :sms_signup,
    :hide_from_selection, :timezone, :now)
ON CONFLICT (store_id) DO UPDATE SET
    name = excluded.name, nickname = excluded.nickname, phone = excluded.phone,
    email = excluded.email, venue_id = excluded.venue_id, address_line1 = excluded.address_line1,
    address_line2 = excluded.address_line2, city = excluded.city, state = excluded.state,
    postal_code = excluded.postal_code, country = excluded.country,
    email_domain = excluded.email_domain, disclaimer = excluded.disclaimer,
    sms_signup = excluded.sms_signup, hide_from_selection = excluded.hide_from_selection,
    timezone = excluded.timezone, updated_at = excluded.updated_at
