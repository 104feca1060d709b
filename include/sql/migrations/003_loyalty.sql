-- 003: discount redemptions and refund reconciliations (rules 18, 19, 21).

CREATE TABLE discount_redemptions (
    credential            VARCHAR(100) NOT NULL,
    sale_id               VARCHAR(200) NOT NULL,
    aiq_discount_id       VARCHAR(200) NOT NULL,
    persona_id            VARCHAR(40)  NOT NULL,
    trident1_discount_id  VARCHAR(200) NOT NULL,
    points                INTEGER      NOT NULL CHECK (points >= 0),
    redeemed_at           TIMESTAMP WITH TIME ZONE NOT NULL,
    run_id                VARCHAR(250) NOT NULL,
    PRIMARY KEY (credential, sale_id, aiq_discount_id)
);
CREATE INDEX discount_redemptions_persona ON discount_redemptions (persona_id);

-- One row per refund (and per void, refund_id 'void:<sale_id>'), written once.
CREATE TABLE refund_reconciliations (
    credential        VARCHAR(100) NOT NULL,
    refund_id         VARCHAR(210) NOT NULL,
    sale_id           VARCHAR(200) NOT NULL,
    persona_id        VARCHAR(40),
    points_reversed   INTEGER NOT NULL CHECK (points_reversed >= 0),
    points_restored   INTEGER NOT NULL CHECK (points_restored >= 0),
    balance_after     INTEGER,
    negative_balance  BOOLEAN NOT NULL,
    reconciled_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    run_id            VARCHAR(250) NOT NULL,
    PRIMARY KEY (credential, refund_id)
);
CREATE INDEX refund_reconciliations_sale ON refund_reconciliations (credential, sale_id);
CREATE INDEX loyalty_ledger_type_sale ON loyalty_ledger (credential, sale_id, entry_type);
CREATE INDEX sales_status ON sales (status);
