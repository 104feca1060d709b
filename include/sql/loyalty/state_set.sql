INSERT INTO loyalty_state (state_key, state_value) VALUES (:state_key, :state_value)
ON CONFLICT (state_key) DO UPDATE SET state_value = excluded.state_value
