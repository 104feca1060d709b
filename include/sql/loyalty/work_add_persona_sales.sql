-- A member's enrolment moved earlier: all their sales are worked through again.
INSERT INTO stg_loyalty (credential, sale_id, persona_id)
SELECT s.credential, s.sale_id, s.persona_id
FROM sales AS s
WHERE s.persona_id = :persona_id
  AND NOT EXISTS (SELECT 1 FROM stg_loyalty AS k WHERE k.credential = s.credential AND k.sale_id = s.sale_id)
