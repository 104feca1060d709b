-- 002: the loyalty points ledger (append-only, rule 17) and the balance view.

CREATE TABLE loyalty_ledger (
    entry_id         VARCHAR(40)  NOT NULL PRIMARY KEY,
    idempotency_key  VARCHAR(300) NOT NULL UNIQUE,
    persona_id       VARCHAR(40)  NOT NULL,
    store_id         VARCHAR(100),
    credential       VARCHAR(100),
    sale_id          VARCHAR(200),
    refund_id        VARCHAR(200),
    entry_type       VARCHAR(20)  NOT NULL
        CHECK (entry_type IN ('earn', 'redeem', 'earn_reversal', 'redeem_restore', 'adjustment')),
    points           INTEGER      NOT NULL CHECK (points <> 0),
    run_id           VARCHAR(250),
    created_at       TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX loyalty_ledger_persona ON loyalty_ledger (persona_id);
CREATE INDEX loyalty_ledger_sale ON loyalty_ledger (credential, sale_id);

CREATE VIEW persona_points_balance AS
SELECT p.persona_id, COALESCE(SUM(l.points), 0) AS points
FROM personas AS p
LEFT JOIN loyalty_ledger AS l ON l.persona_id = p.persona_id
GROUP BY p.persona_id;
