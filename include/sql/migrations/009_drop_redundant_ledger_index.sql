-- 009: loyalty_ledger_sale (credential, sale_id) is a prefix of loyalty_ledger_type_sale
-- (credential, sale_id, entry_type), which serves every look-up it served; each ledger entry
-- paid for both (issue 14: the ledger insert is loyalty's largest cost).
DROP INDEX IF EXISTS loyalty_ledger_sale
