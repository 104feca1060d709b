"""``EXPLAIN ANALYZE`` of the hot statements on a PostgreSQL warehouse, as a day's rerun meets them.

Inside one transaction that is rolled back: one chunk of the day's sales is staged again (as
a rerun or an overlapping window stages it), queued for loyalty, and their
customers staged for persona matching; then each hot statement of
``include/sql`` is explained. ``bench.py`` runs this on the backfill's warehouse
(the biggest it builds) and writes ``results/explain.md``.

    python benchmarks/explain.py postgresql+psycopg://…/db 2026-11-25
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

SETUP = [
    "INSERT INTO stg_sales SELECT credential, sale_id, store_id, location_id, persona_id, customer_id, "
    "receipt_number, status, sold_at, business_date, subtotal, discount_total, tax_total, total, currency, "
    "updated_at, loaded_at, run_id FROM sales WHERE business_date = :day ORDER BY sale_id LIMIT :chunk",
    "INSERT INTO stg_sale_items SELECT i.* FROM sale_items AS i JOIN stg_sales AS s "
    "ON s.credential = i.credential AND s.sale_id = i.sale_id",
    "INSERT INTO stg_refunds SELECT credential, refund_id, sale_id, location_id, store_id, refunded_at, "
    "business_date, amount, tax, total, reason, loaded_at, run_id FROM refunds WHERE business_date >= :day "
    "ORDER BY refund_id LIMIT :chunk",
    "ANALYZE stg_refunds",
    "ANALYZE stg_sales",
    "ANALYZE stg_sale_items",
    "INSERT INTO loyalty_queue (credential, sale_id) SELECT credential, sale_id FROM stg_sales "
    "ON CONFLICT (credential, sale_id) DO NOTHING",
    "INSERT INTO stg_candidates (k, credential, customer_id, phone, email, has_first_name, has_last_name, "
    "has_birth_date) SELECT ROW_NUMBER() OVER (), s.credential, s.customer_id, p.phone, p.email, FALSE, FALSE, FALSE "
    "FROM stg_sales AS s JOIN personas AS p ON p.persona_id = s.persona_id",
    "ANALYZE stg_candidates",
    "INSERT INTO stg_changed (credential, sale_id, location_id, is_new) "
    "SELECT credential, sale_id, location_id, FALSE FROM stg_sales WHERE sale_id LIKE '%1'",
    "ANALYZE stg_changed",
]

#: (what it is, SQL file, statement index in the file)
HOT = [
    ("load: which staged sales are new or changed (rule 8)", "load/changed_sales", 0),
    ("load: queue changed sales for loyalty", "load/changed_sales", 1),
    ("load: drop the lines of changed sales", "load/merge_sales", 0),
    ("load: upsert the changed sales", "load/merge_sales", 4),
    ("load: release quarantined sales that are now valid", "load/quarantine_release_sales", 0),
    ("personas: the chunk's customers already linked, settled in SQL", "personas/settle", 0),
    ("personas: existing personas matching the chunk's customers (every one, as if none were settled)", "personas/matching", 0),
    ("load: release quarantined refunds that are now valid", "load/quarantine_release_refunds", 0),
    ("loyalty: this run's work from the queue", "loyalty/work_create", 2),
    ("loyalty: enrolment (first qualifying sale of the work's personas)", "loyalty/first_qualifying_sales", 0),
    ("loyalty: earn candidates, found once for the work", "loyalty/earn_stage", 1),
    ("loyalty: a page of the earn candidates", "loyalty/earn_candidates", 0),
    ("loyalty: redemption candidates", "loyalty/redemption_candidates", 0),
    ("loyalty: refunds to reconcile", "loyalty/pending_refunds", 0),
    ("loyalty: voids to reconcile", "loyalty/pending_voids", 0),
    ("loyalty: points already on the ledger for the work", "loyalty/work_points", 0),
    ("loyalty: balances of the work's personas", "loyalty/work_balances", 0),
]


def explain(db_url: str, day: date, chunk: int = 10_000) -> str:
    from trident1_aiq.warehouse import Warehouse, split_statements

    wh = Warehouse(db_url)
    out = [f"# EXPLAIN ANALYZE of the hot statements — PostgreSQL, rerun of {day}", ""]
    with wh.engine.connect() as conn:
        trans = conn.begin()
        try:
            sizes = {t: wh.execute(conn, f"SELECT COUNT(*) FROM {t}").scalar()
                     for t in ("sales", "sale_items", "refunds", "personas", "loyalty_ledger")}
            out.append("Warehouse: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()) + ".")
            wh.run(conn, "load/stage_create")
            wh.run(conn, "load/stage_empty")
            for stmt in split_statements(wh.sql("loyalty/work_create"))[:2]:  # the table, empty
                wh.execute(conn, stmt)
            wh.run(conn, "personas/stage_candidates")
            for stmt in SETUP:
                wh.execute(conn, stmt, {"day": day, "chunk": chunk})
            staged = wh.execute(conn, "SELECT COUNT(*) FROM stg_sales").scalar()
            out += [f"Staged again: one chunk, {staged:,} sales of {day} (every one unchanged, as in a rerun; one "
                    "in ten marked changed for the statements that act on changed sales), queued for loyalty.", ""]
            for what, name, index in HOT:
                stmt = split_statements(wh.sql(name))[index]
                params = {"purchased_after": date(2026, 1, 1), "credential": "trident1_chain", "now": day,
                          "after_credential": "", "after_sale_id": "", "page_size": 10_000,
                          "run_id": "explain"}
                plan = wh.execute(conn, "EXPLAIN (ANALYZE, COSTS OFF) " + stmt, params).fetchall()
                if name == "loyalty/work_create":  # the plan above filled the work table: index it
                    wh.execute(conn, split_statements(wh.sql(name))[3])
                    wh.execute(conn, "ANALYZE stg_loyalty")
                if name == "loyalty/earn_stage":  # the plan above filled stg_earn: index it, as the run does
                    wh.execute(conn, split_statements(wh.sql(name))[2])
                    wh.execute(conn, "ANALYZE stg_earn")
                out += [f"## {what}", f"`include/sql/{name}.sql`", "", "```", *(r[0] for r in plan), "```", ""]
        finally:
            trans.rollback()
    wh.dispose()
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(explain(sys.argv[1], date.fromisoformat(sys.argv[2])))
