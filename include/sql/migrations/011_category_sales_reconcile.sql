-- 010: daily_category_sales reconciles to the cent with daily_store_sales (issue 19, item 15).
-- One definition of the money: a sale's net is its subtotal − discount_total, as Trident1 rang it
-- (daily_store_sales sums these). The category view used to sum unrounded quantity × unit_price −
-- discount per line, which missed the store-day total by a cent or two on a third of the days. It
-- now splits each sale's net over the sale's categories: a category gets its lines' own amounts
-- (line total − line tax: after the line's discount, before tax, in cents), and whatever the
-- lines and the sale differ by (rounding, at most a cent or two) goes to the sale's category with
-- the largest share (ties: the first category by name). So Σ over categories = the sale's net,
-- and per store and day the two views agree exactly.
DROP VIEW daily_category_sales;

CREATE VIEW daily_category_sales AS
WITH per_category AS (
    SELECT s.credential, s.sale_id, s.store_id, s.business_date, i.category,
           SUM(i.quantity) AS quantity, SUM(i.total - i.tax) AS lines_net
    FROM sales AS s
    JOIN sale_items AS i ON i.credential = s.credential AND i.sale_id = s.sale_id
    WHERE s.status <> 'voided'
    GROUP BY s.credential, s.sale_id, s.store_id, s.business_date, i.category
), shared AS (
    SELECT c.*,
           SUM(c.lines_net) OVER (PARTITION BY c.credential, c.sale_id) AS sale_lines_net,
           ROW_NUMBER() OVER (PARTITION BY c.credential, c.sale_id
                              ORDER BY c.lines_net DESC, c.category) AS share_rank
    FROM per_category AS c
)
SELECT sh.store_id, sh.business_date, sh.category,
       COUNT(*) AS sales,
       SUM(sh.quantity) AS quantity,
       ROUND(SUM(sh.lines_net + CASE WHEN sh.share_rank = 1
                                     THEN (s.subtotal - s.discount_total) - sh.sale_lines_net
                                     ELSE 0 END), 2) AS net_sales
FROM shared AS sh
JOIN sales AS s ON s.credential = sh.credential AND s.sale_id = sh.sale_id
GROUP BY sh.store_id, sh.business_date, sh.category;
