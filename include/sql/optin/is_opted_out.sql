SELECT COUNT(*) AS n FROM sms_opt_outs WHERE phone = :phone
