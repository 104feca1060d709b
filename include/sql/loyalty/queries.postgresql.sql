-- PostgreSQL variants of sections of queries.sql (same names), used instead on that database.

-- name: insert_entry
-- PostgreSQL: COPY the batch into staging, then one INSERT (rule 17: append-only, the
-- idempotency key makes a rerun write nothing twice). Warehouse.bulk runs the three parts.
-- In key order: neighbouring entries land in the same pages of the key's index (a quarter
-- less time than in sale order, measured at 75,000 entries).
CREATE TEMPORARY TABLE IF NOT EXISTS stg_ledger (
    entry_id VARCHAR(40), idempotency_key VARCHAR(300), persona_id VARCHAR(40), store_id VARCHAR(100),
    credential VARCHAR(100), sale_id VARCHAR(200), refund_id VARCHAR(200), entry_type VARCHAR(20),
    points INTEGER, run_id VARCHAR(250), created_at TIMESTAMP WITH TIME ZONE
);
TRUNCATE stg_ledger;
COPY stg_ledger (entry_id, idempotency_key, persona_id, store_id, credential, sale_id, refund_id,
    entry_type, points, run_id, created_at) FROM STDIN;
INSERT INTO loyalty_ledger (entry_id, idempotency_key, persona_id, store_id, credential, sale_id,
    refund_id, entry_type, points, run_id, created_at)
SELECT entry_id, idempotency_key, persona_id, store_id, credential, sale_id,
       refund_id, entry_type, points, run_id, created_at
FROM stg_ledger
ORDER BY idempotency_key
ON CONFLICT (idempotency_key) DO NOTHING

-- name: lock
-- The loyalty steps read balances then write entries: one run at a time.
SELECT pg_advisory_xact_lock(7345903)

-- name: work_analyze
-- Temporary tables are never auto-analysed: give the planner the work's row count.
ANALYZE stg_loyalty

-- name: earn_analyze
-- Before the earn candidates' join (loyalty/earn_stage): enrolment has just made members of this
-- run's personas, inside this transaction, which autovacuum's statistics cannot know (they said
-- none at a fleet's first run, and the planner chose a plan of close to a minute a page). ANALYZE
-- counts this transaction's own changes.
ANALYZE personas

-- name: enroll
-- PostgreSQL: COPY the new and moved enrolments into staging, then one UPDATE (rule 4).
CREATE TEMPORARY TABLE IF NOT EXISTS stg_enroll (
    persona_id VARCHAR(40), enrolled_at TIMESTAMP WITH TIME ZONE, updated_at TIMESTAMP WITH TIME ZONE
);
TRUNCATE stg_enroll;
COPY stg_enroll (persona_id, enrolled_at, updated_at) FROM STDIN;
UPDATE personas AS p
SET loyalty_member = TRUE, loyalty_enrolled_at = e.enrolled_at, updated_at = e.updated_at
FROM stg_enroll AS e
WHERE p.persona_id = e.persona_id

-- name: insert_redemption
-- PostgreSQL: COPY the batch into staging, then one INSERT (rule 21: once per sale × AIQ discount).
CREATE TEMPORARY TABLE IF NOT EXISTS stg_redemptions (
    credential VARCHAR(100), sale_id VARCHAR(200), aiq_discount_id VARCHAR(200), persona_id VARCHAR(40),
    trident1_discount_id VARCHAR(200), points INTEGER, redeemed_at TIMESTAMP WITH TIME ZONE, run_id VARCHAR(250)
);
TRUNCATE stg_redemptions;
COPY stg_redemptions (credential, sale_id, aiq_discount_id, persona_id, trident1_discount_id, points,
    redeemed_at, run_id) FROM STDIN;
INSERT INTO discount_redemptions (credential, sale_id, aiq_discount_id, persona_id, trident1_discount_id,
    points, redeemed_at, run_id)
SELECT credential, sale_id, aiq_discount_id, persona_id, trident1_discount_id, points, redeemed_at, run_id
FROM stg_redemptions
ON CONFLICT (credential, sale_id, aiq_discount_id) DO NOTHING
