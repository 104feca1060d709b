-- The loyalty steps read balances then write entries: one run at a time.
SELECT pg_advisory_xact_lock(7345903)
