-- Candidates whose customer is already linked to the persona their phone (else, without a
-- phone, their email) finds, and that bring nothing that persona lacks (an email where it has
-- none, a name field it has not): resolution would give them that persona and change nothing
-- (personas.py, resolve_personas). They leave the staging table, so that only the others are
-- matched; the result is (k, persona id) of each. Candidates with neither phone nor email
-- resolve by their link, which an earlier candidate of the chunk may move: never settled here.
INSERT INTO stg_settled (k, persona_id)
SELECT s.k, p.persona_id
FROM stg_candidates AS s
JOIN persona_sources AS l ON l.credential = s.credential AND l.customer_id = s.customer_id
JOIN personas AS p ON p.persona_id = l.persona_id
WHERE (s.phone = p.phone OR (s.phone IS NULL AND s.email = p.email))
  AND (s.email IS NULL OR p.email IS NOT NULL)
  AND (NOT s.has_first_name OR p.first_name IS NOT NULL)
  AND (NOT s.has_last_name OR p.last_name IS NOT NULL)
  AND (NOT s.has_birth_date OR p.birth_date IS NOT NULL);
DELETE FROM stg_candidates WHERE k IN (SELECT k FROM stg_settled);
SELECT k, persona_id FROM stg_settled
