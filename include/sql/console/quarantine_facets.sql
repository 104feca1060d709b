-- The values the quarantine filters offer.
SELECT DISTINCT credential, entity, reason_code, quarantined_on
FROM quarantine
WHERE released_at IS NULL
