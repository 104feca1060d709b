INSERT INTO refund_reconciliations (credential, refund_id, sale_id, persona_id, points_reversed,
    points_restored, balance_after, negative_balance, reconciled_at, run_id)
VALUES (:credential, :refund_id, :sale_id, :persona_id, :points_reversed, :points_restored,
    :balance_after, :negative_balance, :now, :run_id)
ON CONFLICT (credential, refund_id) DO NOTHING
