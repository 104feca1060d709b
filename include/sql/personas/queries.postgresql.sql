-- PostgreSQL variants of sections of queries.sql (same names), used instead on that database.

-- name: analyze_candidates
-- Temporary tables are never auto-analysed: give the planner the count of the candidates
-- left after `settle` (few, on most chunks), for the matching.
ANALYZE stg_candidates

-- name: insert_candidate
-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_candidates (k, credential, customer_id, phone, email, has_first_name, has_last_name, has_birth_date) FROM STDIN

-- name: insert_persona
-- PostgreSQL: COPY the new personas into staging, then one INSERT (see insert_persona in queries.sql;
-- rule 15: sourced_from is set once, at creation). Warehouse.bulk runs the three parts.
CREATE TEMPORARY TABLE IF NOT EXISTS stg_new_personas (
    persona_id VARCHAR(40), phone VARCHAR(20), email VARCHAR(320), first_name VARCHAR(200),
    last_name VARCHAR(200), birth_date DATE, created_at TIMESTAMP WITH TIME ZONE
);
TRUNCATE stg_new_personas;
COPY stg_new_personas (persona_id, phone, email, first_name, last_name, birth_date, created_at) FROM STDIN;
INSERT INTO personas (persona_id, phone, email, first_name, last_name, birth_date,
    sourced_from, loyalty_member, created_at, updated_at)
SELECT persona_id, phone, email, first_name, last_name, birth_date, 'Trident 1', FALSE, created_at, created_at
FROM stg_new_personas
ON CONFLICT (persona_id) DO NOTHING

-- name: link_source
-- PostgreSQL: COPY the new links into staging, then one INSERT (see link_source in queries.sql).
CREATE TEMPORARY TABLE IF NOT EXISTS stg_new_links (
    credential VARCHAR(100), customer_id VARCHAR(200), persona_id VARCHAR(40),
    first_seen_at TIMESTAMP WITH TIME ZONE
);
TRUNCATE stg_new_links;
COPY stg_new_links (credential, customer_id, persona_id, first_seen_at) FROM STDIN;
INSERT INTO persona_sources (credential, customer_id, persona_id, first_seen_at)
SELECT credential, customer_id, persona_id, first_seen_at FROM stg_new_links
ON CONFLICT (credential, customer_id) DO NOTHING

-- name: lock
-- Persona resolution reads then writes (rule 14). A chunk with more open identifiers than
-- personas.MAX_KEY_LOCKS buckets takes turns with every other resolution: the exclusive form of
-- the lock that scoped resolutions (lock_shared, then lock_keys) share.
SELECT pg_advisory_xact_lock(7345902)

-- name: lock_keys
-- Scoped: one lock per bucket of the open candidates' phones, emails and Trident1 customers,
-- taken in the (sorted) order given, so two resolutions wait for each other only when they
-- share an identifier (or a bucket) and never deadlock. Two loads never create two personas for
-- one phone or e-mail: whoever creates or fills a persona holds the buckets of its identifiers.
SELECT COUNT(pg_advisory_xact_lock(7345905, b)) FROM unnest(CAST(:buckets AS INTEGER[])) AS b

-- name: lock_rows
-- The matched personas' rows, in id order: a persona one load fills (through one identifier)
-- while another matches it (through another) is read again after the first commits.
SELECT persona_id FROM personas WHERE persona_id = ANY(CAST(:ids AS VARCHAR[])) ORDER BY persona_id FOR UPDATE

-- name: lock_shared
-- Scoped resolutions share this lock; a resolution of too many identifiers takes it exclusively.
SELECT pg_advisory_xact_lock_shared(7345902)

-- name: stage_candidates
-- PostgreSQL: as in queries.sql, but emptied by TRUNCATE, and without indexes. Nothing vacuums
-- a temporary table: DELETE would leave every earlier chunk's rows dead in it and in its
-- indexes, for each later COPY and scan to wade through (a sales day: 16 chunks on one
-- connection). The planner hashes the candidates for every statement that reads them (settle,
-- matching): an index on them would only slow the COPY.
CREATE TEMPORARY TABLE IF NOT EXISTS stg_candidates (
    k INTEGER, credential VARCHAR(100), customer_id VARCHAR(200), phone VARCHAR(20), email VARCHAR(320),
    has_first_name BOOLEAN, has_last_name BOOLEAN, has_birth_date BOOLEAN
);
CREATE TEMPORARY TABLE IF NOT EXISTS stg_settled (k INTEGER, persona_id VARCHAR(40));
TRUNCATE stg_candidates, stg_settled
