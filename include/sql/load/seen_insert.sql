INSERT INTO stg_seen (credential, record_id) VALUES (:credential, :record_id)
