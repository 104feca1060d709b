-- Temporary tables are never auto-analysed: give the planner the staged sales and refunds
-- (the lines and discounts are only joined through stg_changed, by index).
ANALYZE stg_sales;
ANALYZE stg_refunds
