-- Open held records per location (a mapped location the API no longer lists still counts).
SELECT credential, location_id, COUNT(*) AS held_records
FROM quarantine
WHERE held = TRUE AND released_at IS NULL
GROUP BY credential, location_id
