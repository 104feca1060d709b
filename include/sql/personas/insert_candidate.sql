INSERT INTO stg_candidates (credential, customer_id, phone, email)
VALUES (:credential, :customer_id, :phone, :email)
