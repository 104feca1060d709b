SELECT state_value FROM loyalty_state WHERE state_key = :state_key
