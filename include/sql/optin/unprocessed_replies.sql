SELECT reply_id, from_phone, action, received_at FROM sms_replies
WHERE processed_at IS NULL ORDER BY received_at, reply_id
