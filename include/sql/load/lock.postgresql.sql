-- Two loads of the same credential (a run and its retry, or a run overlapping a
-- backfill) take turns; loads of different credentials run in parallel.
SELECT pg_advisory_xact_lock(7345900, hashtext(:credential))
