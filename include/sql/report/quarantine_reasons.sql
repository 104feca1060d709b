-- Open quarantine rows met by this run, for the summary.
SELECT credential, held, reasons FROM quarantine WHERE run_id = :run_id AND released_at IS NULL
