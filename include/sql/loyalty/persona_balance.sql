SELECT COALESCE(SUM(points), 0) AS points FROM loyalty_ledger WHERE persona_id = :persona_id
