-- 001: the core warehouse — stores, mappings, Trident1 catalogue, personas, sales,
-- refunds, quarantine and the run report. Portable SQL: PostgreSQL and SQLite.
-- Timestamps are UTC; money NUMERIC(12,2); quantities NUMERIC(12,3).

CREATE TABLE retail_stores (
    store_id            VARCHAR(100) NOT NULL PRIMARY KEY,
    name                VARCHAR(500) NOT NULL,
    nickname            VARCHAR(500),
    phone               VARCHAR(100),
    email               VARCHAR(500),
    venue_id            VARCHAR(200),
    address_line1       VARCHAR(500),
    address_line2       VARCHAR(500),
    city                VARCHAR(200),
    state               VARCHAR(100),
    postal_code         VARCHAR(20),
    country             VARCHAR(2),
    email_domain        VARCHAR(500),
    disclaimer          TEXT,
    sms_signup          BOOLEAN NOT NULL,
    hide_from_selection BOOLEAN NOT NULL,
    timezone            VARCHAR(64) NOT NULL,
    updated_at          TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE store_mappings (
    credential   VARCHAR(100) NOT NULL,
    location_id  VARCHAR(200) NOT NULL,
    store_id     VARCHAR(100) NOT NULL REFERENCES retail_stores (store_id),
    updated_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (credential, location_id)
);

CREATE TABLE trident1_locations (
    credential     VARCHAR(100) NOT NULL,
    location_id    VARCHAR(200) NOT NULL,
    name           VARCHAR(500),
    timezone       VARCHAR(64),
    phone          VARCHAR(100),
    active         BOOLEAN,
    address_line1  VARCHAR(500),
    address_line2  VARCHAR(500),
    city           VARCHAR(200),
    state          VARCHAR(100),
    postal_code    VARCHAR(20),
    country        VARCHAR(2),
    last_seen_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (credential, location_id)
);

CREATE TABLE trident1_discounts (
    credential     VARCHAR(100) NOT NULL,
    discount_id    VARCHAR(200) NOT NULL,
    code           VARCHAR(100),
    name           VARCHAR(500),
    discount_type  VARCHAR(50),
    value          VARCHAR(50),
    in_store_only  BOOLEAN NOT NULL,
    active         BOOLEAN,
    last_seen_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (credential, discount_id)
);

CREATE TABLE personas (
    persona_id           VARCHAR(40) NOT NULL PRIMARY KEY,
    phone                VARCHAR(20) UNIQUE,
    email                VARCHAR(320) UNIQUE,
    first_name           VARCHAR(200),
    last_name            VARCHAR(200),
    birth_date           DATE,
    sourced_from         VARCHAR(100) NOT NULL,
    loyalty_member       BOOLEAN NOT NULL DEFAULT FALSE,
    loyalty_enrolled_at  TIMESTAMP WITH TIME ZONE,
    created_at           TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at           TIMESTAMP WITH TIME ZONE NOT NULL
);

-- Which Trident1 customer ids (per credential) resolved to which persona.
CREATE TABLE persona_sources (
    credential   VARCHAR(100) NOT NULL,
    customer_id  VARCHAR(200) NOT NULL,
    persona_id   VARCHAR(40)  NOT NULL REFERENCES personas (persona_id),
    first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (credential, customer_id)
);
CREATE INDEX persona_sources_persona ON persona_sources (persona_id);

CREATE TABLE sales (
    credential      VARCHAR(100) NOT NULL,
    sale_id         VARCHAR(200) NOT NULL,
    store_id        VARCHAR(100) NOT NULL,
    location_id     VARCHAR(200) NOT NULL,
    persona_id      VARCHAR(40),
    customer_id     VARCHAR(200),
    receipt_number  VARCHAR(100),
    status          VARCHAR(30)  NOT NULL,
    sold_at         TIMESTAMP WITH TIME ZONE NOT NULL,
    business_date   DATE NOT NULL,
    subtotal        NUMERIC(12,2) NOT NULL,
    discount_total  NUMERIC(12,2) NOT NULL,
    tax_total       NUMERIC(12,2) NOT NULL,
    total           NUMERIC(12,2) NOT NULL,
    currency        VARCHAR(3),
    updated_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    loaded_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    run_id          VARCHAR(250) NOT NULL,
    PRIMARY KEY (credential, sale_id)
);
CREATE INDEX sales_store_day ON sales (store_id, business_date);
CREATE INDEX sales_persona ON sales (persona_id);
CREATE INDEX sales_run ON sales (run_id);

CREATE TABLE sale_items (
    credential  VARCHAR(100) NOT NULL,
    sale_id     VARCHAR(200) NOT NULL,
    line_id     INTEGER      NOT NULL,
    sku         VARCHAR(100),
    name        VARCHAR(500),
    category    VARCHAR(200),
    quantity    NUMERIC(12,3) NOT NULL,
    unit_price  NUMERIC(12,2) NOT NULL,
    discount    NUMERIC(12,2) NOT NULL,
    tax         NUMERIC(12,2) NOT NULL,
    total       NUMERIC(12,2) NOT NULL,
    PRIMARY KEY (credential, sale_id, line_id)
);

CREATE TABLE sale_discounts (
    credential     VARCHAR(100) NOT NULL,
    sale_id        VARCHAR(200) NOT NULL,
    discount_id    VARCHAR(200) NOT NULL,
    code           VARCHAR(100),
    name           VARCHAR(500),
    amount         NUMERIC(12,2) NOT NULL,
    in_store_only  BOOLEAN NOT NULL,
    PRIMARY KEY (credential, sale_id, discount_id)
);

CREATE TABLE refunds (
    credential     VARCHAR(100) NOT NULL,
    refund_id      VARCHAR(200) NOT NULL,
    sale_id        VARCHAR(200) NOT NULL,
    location_id    VARCHAR(200) NOT NULL,
    store_id       VARCHAR(100) NOT NULL,
    refunded_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    business_date  DATE NOT NULL,
    amount         NUMERIC(12,2) NOT NULL,
    tax            NUMERIC(12,2) NOT NULL,
    total          NUMERIC(12,2) NOT NULL,
    reason         VARCHAR(200),
    loaded_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    run_id         VARCHAR(250) NOT NULL,
    PRIMARY KEY (credential, refund_id)
);
CREATE INDEX refunds_sale ON refunds (credential, sale_id);
CREATE INDEX refunds_store_day ON refunds (store_id, business_date);

-- Rejected records (held = false) and records held for an unmapped location
-- (held = true). One open row per (credential, entity, record_key).
CREATE TABLE quarantine (
    quarantine_id   VARCHAR(40)  NOT NULL PRIMARY KEY,
    credential      VARCHAR(100) NOT NULL,
    entity          VARCHAR(20)  NOT NULL,
    record_key      VARCHAR(250) NOT NULL,
    location_id     VARCHAR(200),
    held            BOOLEAN      NOT NULL,
    reasons         TEXT         NOT NULL,
    payload         TEXT         NOT NULL,
    run_id          VARCHAR(250) NOT NULL,
    first_run_id    VARCHAR(250) NOT NULL,
    quarantined_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    last_seen_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    released_at     TIMESTAMP WITH TIME ZONE,
    released_by_run VARCHAR(250)
);
CREATE UNIQUE INDEX quarantine_open ON quarantine (credential, entity, record_key) WHERE released_at IS NULL;
CREATE INDEX quarantine_held ON quarantine (credential, held, location_id) WHERE released_at IS NULL;

CREATE TABLE etl_runs (
    run_id             VARCHAR(250) NOT NULL,
    credential         VARCHAR(100) NOT NULL,
    business_date      DATE,
    window_start       TIMESTAMP WITH TIME ZONE,
    window_end         TIMESTAMP WITH TIME ZONE,
    status             VARCHAR(20)  NOT NULL,
    started_at         TIMESTAMP WITH TIME ZONE NOT NULL,
    finished_at        TIMESTAMP WITH TIME ZONE,
    records_read       INTEGER NOT NULL DEFAULT 0,
    sales_read         INTEGER NOT NULL DEFAULT 0,
    refunds_read       INTEGER NOT NULL DEFAULT 0,
    customers_read     INTEGER NOT NULL DEFAULT 0,
    loaded             INTEGER NOT NULL DEFAULT 0,
    updated            INTEGER NOT NULL DEFAULT 0,
    unchanged          INTEGER NOT NULL DEFAULT 0,
    quarantined        INTEGER NOT NULL DEFAULT 0,
    held               INTEGER NOT NULL DEFAULT 0,
    released           INTEGER NOT NULL DEFAULT 0,
    refunds_loaded     INTEGER NOT NULL DEFAULT 0,
    personas_created   INTEGER NOT NULL DEFAULT 0,
    personas_merged    INTEGER NOT NULL DEFAULT 0,
    points_earned      INTEGER NOT NULL DEFAULT 0,
    points_reversed    INTEGER NOT NULL DEFAULT 0,
    opt_ins_sent       INTEGER NOT NULL DEFAULT 0,
    step_seconds       TEXT,
    notes              TEXT,
    PRIMARY KEY (run_id, credential)
);

CREATE TABLE etl_run_locations (
    run_id        VARCHAR(250) NOT NULL,
    credential    VARCHAR(100) NOT NULL,
    location_id   VARCHAR(200) NOT NULL,
    store_id      VARCHAR(100),
    records_read  INTEGER NOT NULL DEFAULT 0,
    loaded        INTEGER NOT NULL DEFAULT 0,
    updated       INTEGER NOT NULL DEFAULT 0,
    unchanged     INTEGER NOT NULL DEFAULT 0,
    quarantined   INTEGER NOT NULL DEFAULT 0,
    held          INTEGER NOT NULL DEFAULT 0,
    released      INTEGER NOT NULL DEFAULT 0,
    refunds_loaded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, credential, location_id)
);

-- Analysts: one row per store and local business day.
CREATE VIEW daily_store_sales AS
SELECT store_id,
       business_date,
       SUM(sales)                AS sales,
       ROUND(SUM(net_sales), 2)  AS net_sales,
       ROUND(SUM(refunds), 2)    AS refunds,
       SUM(personas)             AS personas
FROM (
    SELECT store_id, business_date, COUNT(*) AS sales,
           SUM(subtotal - discount_total) AS net_sales,
           0 AS refunds, COUNT(DISTINCT persona_id) AS personas
    FROM sales
    WHERE status <> 'voided'
    GROUP BY store_id, business_date
    UNION ALL
    SELECT store_id, business_date, 0, 0, SUM(amount), 0
    FROM refunds
    GROUP BY store_id, business_date
) AS parts
GROUP BY store_id, business_date;
