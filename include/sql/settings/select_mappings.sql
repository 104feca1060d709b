SELECT credential, location_id FROM store_mappings
