-- PostgreSQL variants of sections of queries.sql (same names), used instead on that database.

-- name: lock
SELECT pg_advisory_xact_lock(7345904)
