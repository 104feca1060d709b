DELETE FROM store_mappings WHERE credential = :credential AND location_id = :location_id
