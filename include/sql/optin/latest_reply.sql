SELECT MAX(received_at) AS received_at FROM sms_replies
