-- Named queries of persona resolution (personas.py).
-- Each `-- name: <query>` section is one named query, run as `personas/<query>`.

-- name: analyze_candidates
-- SQLite plans the matching by index without statistics: nothing to do.

-- name: fill_persona
-- Fill what a persona lacks; never overwrite a known phone, email or name.
UPDATE personas SET
    phone = COALESCE(phone, :phone),
    email = COALESCE(email, :email),
    first_name = COALESCE(first_name, :first_name),
    last_name = COALESCE(last_name, :last_name),
    birth_date = COALESCE(birth_date, :birth_date),
    updated_at = :now
WHERE persona_id = :persona_id

-- name: insert_candidate
INSERT INTO stg_candidates (k, credential, customer_id, phone, email, has_first_name, has_last_name, has_birth_date)
VALUES (:k, :credential, :customer_id, :phone, :email, :has_first_name, :has_last_name, :has_birth_date)

-- name: insert_persona
-- Rule 15: sourced_from is set once, at creation, and never overwritten.
INSERT INTO personas (persona_id, phone, email, first_name, last_name, birth_date,
    sourced_from, loyalty_member, created_at, updated_at)
VALUES (:persona_id, :phone, :email, :first_name, :last_name, :birth_date,
    'Trident 1', FALSE, :created_at, :created_at)
ON CONFLICT (persona_id) DO NOTHING

-- name: link_source
INSERT INTO persona_sources (credential, customer_id, persona_id, first_seen_at)
VALUES (:credential, :customer_id, :persona_id, :first_seen_at)
ON CONFLICT (credential, customer_id) DO NOTHING

-- name: lock
-- SQLite: BEGIN IMMEDIATE already serialises writers.

-- name: lock_keys
-- SQLite: BEGIN IMMEDIATE already serialises writers.

-- name: lock_rows
-- SQLite: BEGIN IMMEDIATE already serialises writers.

-- name: lock_shared
-- SQLite: BEGIN IMMEDIATE already serialises writers.

-- name: stage_candidates
-- One row per distinct candidate (k numbers them); of its names only which ones it brings.
-- stg_settled: the candidates `settle` resolved in SQL.
CREATE TEMPORARY TABLE IF NOT EXISTS stg_candidates (
    k INTEGER, credential VARCHAR(100), customer_id VARCHAR(200), phone VARCHAR(20), email VARCHAR(320),
    has_first_name BOOLEAN, has_last_name BOOLEAN, has_birth_date BOOLEAN
);
CREATE INDEX IF NOT EXISTS stg_candidates_source ON stg_candidates (credential, customer_id);
CREATE INDEX IF NOT EXISTS stg_candidates_phone ON stg_candidates (phone);
CREATE INDEX IF NOT EXISTS stg_candidates_email ON stg_candidates (email);
CREATE TEMPORARY TABLE IF NOT EXISTS stg_settled (k INTEGER PRIMARY KEY, persona_id VARCHAR(40));
DELETE FROM stg_candidates;
DELETE FROM stg_settled;
