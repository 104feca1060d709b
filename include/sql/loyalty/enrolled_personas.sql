SELECT persona_id, loyalty_enrolled_at FROM personas WHERE loyalty_member = TRUE
