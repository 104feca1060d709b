UPDATE sms_replies SET processed_at = :now WHERE reply_id = :reply_id
