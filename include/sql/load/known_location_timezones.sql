SELECT location_id, timezone FROM trident1_locations WHERE credential = :credential
