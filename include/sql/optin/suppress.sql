INSERT INTO sms_opt_outs (phone, opted_out_at, reply_id) VALUES (:phone, :at, :reply_id)
ON CONFLICT (phone) DO NOTHING
