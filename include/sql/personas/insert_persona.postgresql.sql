-- PostgreSQL: COPY the new personas into staging, then one INSERT (see insert_persona.sql;
-- rule 15: sourced_from is set once, at creation). Warehouse.bulk runs the three parts.
CREATE TEMPORARY TABLE IF NOT EXISTS stg_new_personas (
    persona_id VARCHAR(40), phone VARCHAR(20), email VARCHAR(320), first_name VARCHAR(200),
    last_name VARCHAR(200), birth_date DATE, created_at TIMESTAMP WITH TIME ZONE
);
DELETE FROM stg_new_personas;
COPY stg_new_personas (persona_id, phone, email, first_name, last_name, birth_date, created_at) FROM STDIN;
INSERT INTO personas (persona_id, phone, email, first_name, last_name, birth_date,
    sourced_from, loyalty_member, created_at, updated_at)
SELECT persona_id, phone, email, first_name, last_name, birth_date, 'Trident 1', FALSE, created_at, created_at
FROM stg_new_personas
ON CONFLICT (persona_id) DO NOTHING
