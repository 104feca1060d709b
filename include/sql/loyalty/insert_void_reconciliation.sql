INSERT INTO void_reconciliations (credential, sale_id, persona_id, points_reversed,
    points_restored, balance_after, negative_balance, reconciled_at, run_id)
VALUES (:credential, :sale_id, :persona_id, :points_reversed, :points_restored,
    :balance_after, :negative_balance, :now, :run_id)
ON CONFLICT (credential, sale_id) DO NOTHING
