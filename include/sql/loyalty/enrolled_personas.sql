SELECT persona_id, loyalty_enrolled_at FROM personas
WHERE loyalty_member = TRUE
  AND persona_id IN (SELECT persona_id FROM stg_loyalty WHERE persona_id IS NOT NULL)
