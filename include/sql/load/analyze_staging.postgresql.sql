-- Temporary tables are never auto-analysed: give the planner the staged row counts,
-- so that the merge drives from the chunk into the big tables' indexes.
ANALYZE stg_sales;
ANALYZE stg_sale_items;
ANALYZE stg_sale_discounts;
ANALYZE stg_refunds
