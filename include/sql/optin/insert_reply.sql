INSERT INTO sms_replies (reply_id, from_phone, body, action, received_at)
VALUES (:reply_id, :from_phone, :body, :action, :received_at)
ON CONFLICT (reply_id) DO NOTHING
