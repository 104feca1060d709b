UPDATE personas SET loyalty_member = TRUE, loyalty_enrolled_at = :enrolled_at, updated_at = :now
WHERE persona_id = :persona_id
