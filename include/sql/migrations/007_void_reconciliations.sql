-- 007: voids get their own reconciliation table (rule 18). Until now a sale voided after it
-- earned was written to refund_reconciliations under an invented refund id 'void:<sale_id>',
-- which joins to no refund. Those rows move here, and ledger entries stop naming that id.

CREATE TABLE void_reconciliations (
    credential        VARCHAR(100) NOT NULL,
    sale_id           VARCHAR(200) NOT NULL,
    persona_id        VARCHAR(40),
    points_reversed   INTEGER NOT NULL CHECK (points_reversed >= 0),
    points_restored   INTEGER NOT NULL CHECK (points_restored >= 0),
    balance_after     INTEGER,
    negative_balance  BOOLEAN NOT NULL,
    reconciled_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    run_id            VARCHAR(250) NOT NULL,
    PRIMARY KEY (credential, sale_id)
);

INSERT INTO void_reconciliations (credential, sale_id, persona_id, points_reversed, points_restored,
    balance_after, negative_balance, reconciled_at, run_id)
SELECT credential, sale_id, persona_id, points_reversed, points_restored, balance_after,
       negative_balance, reconciled_at, run_id
FROM refund_reconciliations
WHERE refund_id LIKE 'void:%';

DELETE FROM refund_reconciliations WHERE refund_id LIKE 'void:%';

-- The entries keep their idempotency keys ('earn_reversal:<credential>:void:<sale_id>'), so
-- nothing is ever written twice; only the descriptive refund_id column is corrected.
UPDATE loyalty_ledger SET refund_id = NULL WHERE refund_id LIKE 'void:%';

-- Every point reconciliation, refunds and voids, for admins: kind 'refund' or 'void'.
CREATE VIEW point_reconciliations AS
SELECT 'refund' AS kind, credential, sale_id, refund_id, persona_id, points_reversed,
       points_restored, balance_after, negative_balance, reconciled_at, run_id
FROM refund_reconciliations
UNION ALL
SELECT 'void' AS kind, credential, sale_id, NULL AS refund_id, persona_id, points_reversed,
       points_restored, balance_after, negative_balance, reconciled_at, run_id
FROM void_reconciliations;
