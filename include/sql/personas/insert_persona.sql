-- Rule 15: sourced_from is set once, at creation, and never overwritten.
INSERT INTO personas (persona_id, phone, email, first_name, last_name, birth_date,
    sourced_from, loyalty_member, created_at, updated_at)
VALUES (:persona_id, :phone, :email, :first_name, :last_name, :birth_date,
    'Trident 1', FALSE, :created_at, :created_at)
ON CONFLICT (persona_id) DO NOTHING
