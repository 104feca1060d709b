-- 006: incremental loyalty (docs/performance.md). Every load that adds or changes a
-- sale, or adds a refund, queues the sale here in the same transaction; the loyalty
-- step works through the queued sales only and removes them in its own transaction.
-- A refund whose sale has not arrived keeps its sale queued until the sale comes.
CREATE TABLE loyalty_queue (
    credential  VARCHAR(100) NOT NULL,
    sale_id     VARCHAR(200) NOT NULL,
    PRIMARY KEY (credential, sale_id)
);

-- The loyalty settings the queue was last worked under; when they change every sale is queued once.
CREATE TABLE loyalty_state (
    state_key    VARCHAR(50) PRIMARY KEY,
    state_value  VARCHAR(200) NOT NULL
);

