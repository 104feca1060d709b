-- Existing personas that share a phone or an email with a candidate, or that a
-- candidate's Trident1 customer id already resolved to. Three index-driven parts (a persona
-- may come twice: the index keeps one); never OR across them, which would scan personas.
SELECT p.persona_id, p.phone, p.email, p.first_name, p.last_name, p.birth_date, NULL AS credential, NULL AS customer_id
FROM personas AS p
WHERE p.phone IN (SELECT phone FROM stg_candidates WHERE phone IS NOT NULL)
UNION ALL
SELECT p.persona_id, p.phone, p.email, p.first_name, p.last_name, p.birth_date, NULL AS credential, NULL AS customer_id
FROM personas AS p
WHERE p.email IN (SELECT email FROM stg_candidates WHERE email IS NOT NULL)
UNION ALL
SELECT p.persona_id, p.phone, p.email, p.first_name, p.last_name, p.birth_date, l.credential, l.customer_id
FROM persona_sources AS l
JOIN personas AS p ON p.persona_id = l.persona_id
WHERE (l.credential, l.customer_id) IN (SELECT credential, customer_id FROM stg_candidates
                                        WHERE customer_id IS NOT NULL)
