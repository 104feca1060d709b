-- Persona resolution reads then writes: concurrent credential loads take turns here,
-- so that two of them never create two personas for one phone (rule 14).
SELECT pg_advisory_xact_lock(7345902)
