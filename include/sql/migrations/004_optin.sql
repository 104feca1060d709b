-- 004: SMS double opt-in (rules 22–26): requests, replies, and the opt-out list.

CREATE TABLE opt_in_requests (
    persona_id       VARCHAR(40)  NOT NULL,
    attempt          INTEGER      NOT NULL CHECK (attempt >= 1),
    phone            VARCHAR(20)  NOT NULL,
    store_id         VARCHAR(100),
    status           VARCHAR(20)  NOT NULL
        CHECK (status IN ('pending', 'sent', 'confirmed', 'opted_out', 'expired', 'failed')),
    idempotency_key  VARCHAR(120) NOT NULL UNIQUE,
    requested_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    sent_at          TIMESTAMP WITH TIME ZONE,
    responded_at     TIMESTAMP WITH TIME ZONE,
    message_id       VARCHAR(100),
    error            VARCHAR(500),
    run_id           VARCHAR(250) NOT NULL,
    PRIMARY KEY (persona_id, attempt)
);
CREATE INDEX opt_in_requests_status ON opt_in_requests (status);
CREATE INDEX opt_in_requests_phone ON opt_in_requests (phone);

-- Every reply the gateway listed, once (the same reply may be listed again).
CREATE TABLE sms_replies (
    reply_id      VARCHAR(100) NOT NULL PRIMARY KEY,
    from_phone    VARCHAR(20)  NOT NULL,
    body          VARCHAR(2000),
    action        VARCHAR(20)  NOT NULL,
    received_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    processed_at  TIMESTAMP WITH TIME ZONE
);
CREATE INDEX sms_replies_received ON sms_replies (received_at);

-- Numbers that said STOP: never messaged again, by any path.
CREATE TABLE sms_opt_outs (
    phone          VARCHAR(20) NOT NULL PRIMARY KEY,
    opted_out_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    reply_id       VARCHAR(100)
);

CREATE VIEW opt_in_funnel AS
SELECT store_id, attempt, status, COUNT(*) AS requests
FROM opt_in_requests
GROUP BY store_id, attempt, status;
