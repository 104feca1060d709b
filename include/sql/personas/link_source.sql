INSERT INTO persona_sources (credential, customer_id, persona_id, first_seen_at)
VALUES (:credential, :customer_id, :persona_id, :first_seen_at)
ON CONFLICT (credential, customer_id) DO NOTHING
