INSERT INTO discount_redemptions (credential, sale_id, aiq_discount_id, persona_id,
    trident1_discount_id, points, redeemed_at, run_id)
VALUES (:credential, :sale_id, :aiq_discount_id, :persona_id, :trident1_discount_id, :points,
    :redeemed_at, :run_id)
ON CONFLICT (credential, sale_id, aiq_discount_id) DO NOTHING
