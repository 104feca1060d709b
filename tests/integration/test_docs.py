"""docs/warehouse.md documents exactly the schema: every table, view and column, nothing more."""

from __future__ import annotations

import re

import pytest

from ..factories import ROOT

pytestmark = pytest.mark.integration


def documented() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    current = None
    for line in (ROOT / "docs" / "warehouse.md").read_text().splitlines():
        heading = re.match(r"^### (\w+)\s*$", line)
        if heading:
            current = heading.group(1)
            out[current] = set()
            continue
        cell = re.match(r"^\| (\w+) \|", line)
        if current and cell and cell.group(1) not in ("column",):
            out[current].add(cell.group(1))
    return out


def test_data_dictionary_matches_schema(warehouse):
    actual = {t: set(cols) for t, cols in warehouse.tables().items()}
    docs = documented()
    assert sorted(set(actual) - set(docs)) == [], "tables missing from docs/warehouse.md"
    assert sorted(set(docs) - set(actual)) == [], "documented tables that do not exist"
    for table, cols in actual.items():
        assert cols == docs[table], f"{table}: undocumented {cols - docs[table]}, stale {docs[table] - cols}"


# ------------------------------------------------------------------ example queries (issue 13)


def example_queries() -> list[tuple[str, str | None, str]]:
    """(title, dialect or None, sql) of every query in the "Example queries" section."""
    page = (ROOT / "docs" / "warehouse.md").read_text()
    section = page[page.index("## Example queries"):]
    out: list[tuple[str, str | None, str]] = []
    for block in re.findall(r"```sql\n(.*?)```", section, re.DOTALL):
        title, dialect, lines = None, None, []
        for line in [*block.splitlines(), "-- end"]:
            if line.startswith("-- "):
                if title and "".join(lines).strip():
                    out.append((title, dialect, "\n".join(lines).strip().rstrip(";")))
                m = re.match(r"^-- (.*?)(?: \((PostgreSQL|SQLite)\))?$", line)
                title, dialect = m.group(1), {"PostgreSQL": "postgresql", "SQLite": "sqlite"}.get(m.group(2) or "")
                lines = []
            else:
                lines.append(line)
    return out


def _norm(value):
    import datetime as dt
    from decimal import Decimal

    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    return value


def _fixture(wh, today):
    """A small warehouse whose answers are known: two stores, three personas, sales 1, 3 and 10 days
    ago, a covered day without sales, ledger entries, opt-in requests and quarantine. Amounts such as
    10.10 + 20.20 are 30.299999999999997 in floating point: SQLite's REAL shows it unless rounded."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    now = datetime.now(UTC)
    d = {n: today - timedelta(days=n) for n in (1, 2, 3, 10)}
    rows = {
        "INSERT INTO retail_stores (store_id, name, sms_signup, hide_from_selection, timezone, updated_at) "
        "VALUES (:id, :id, FALSE, FALSE, 'America/Denver', :now)": [{"id": "den", "now": now}, {"id": "nyc", "now": now}],
        "INSERT INTO personas (persona_id, sourced_from, created_at, updated_at) VALUES (:p, 'Trident 1', :now, :now)":
            [{"p": p, "now": now} for p in ("p1", "p2", "p3")],
        "INSERT INTO sales (credential, sale_id, store_id, location_id, persona_id, status, sold_at, business_date, "
        "subtotal, discount_total, tax_total, total, updated_at, loaded_at, run_id) VALUES ('trident1_acme', :s, "
        ":store, :loc, :p, :status, :now, :day, :sub, :disc, 0, :sub, :now, :now, 'run-1')": [
            {"s": "s1", "store": "den", "loc": "LOC-1", "p": "p1", "status": "completed", "day": d[1], "sub": "10.10", "disc": "0"},
            {"s": "s2", "store": "den", "loc": "LOC-1", "p": "p2", "status": "completed", "day": d[1], "sub": "6.00", "disc": "0.50"},
            {"s": "s3", "store": "den", "loc": "LOC-1", "p": "p1", "status": "voided", "day": d[1], "sub": "100.00", "disc": "0"},
            {"s": "s4", "store": "nyc", "loc": "LOC-2", "p": "p1", "status": "completed", "day": d[3], "sub": "20.20", "disc": "0"},
            {"s": "s5", "store": "den", "loc": "LOC-1", "p": "p3", "status": "completed", "day": d[10], "sub": "7.25", "disc": "0"},
        ],
        "INSERT INTO sale_items (credential, sale_id, line_id, category, quantity, unit_price, discount, tax, total) "
        "VALUES ('trident1_acme', :s, 1, :cat, :qty, :price, :disc, 0, 0)": [
            {"s": "s1", "cat": "knives", "qty": "1", "price": "10.00", "disc": "0"},
            {"s": "s2", "cat": "sharpeners", "qty": "2", "price": "3.00", "disc": "0.50"},
        ],
        "INSERT INTO refunds (credential, refund_id, sale_id, location_id, store_id, refunded_at, business_date, "
        "amount, tax, total, loaded_at, run_id) VALUES ('trident1_acme', 'r1', 's1', 'LOC-1', 'den', :now, :day, "
        "2.00, 0.16, 2.16, :now, 'run-1')": [{"now": now, "day": d[1]}],
        "INSERT INTO etl_runs (run_id, credential, business_date, status, started_at) "
        "VALUES (:r, 'trident1_acme', :day, :status, :now)": [
            {"r": "run-1", "day": d[1], "status": "success", "now": now},
            {"r": "run-2", "day": d[2], "status": "success", "now": now},
            {"r": "run-3", "day": d[3], "status": "failed", "now": now}],
        "INSERT INTO etl_run_locations (run_id, credential, location_id, store_id) "
        "VALUES (:r, 'trident1_acme', :loc, :store)": [
            {"r": "run-1", "loc": "LOC-1", "store": "den"}, {"r": "run-2", "loc": "LOC-1", "store": "den"},
            {"r": "run-3", "loc": "LOC-2", "store": "nyc"}],
        "INSERT INTO loyalty_ledger (entry_id, idempotency_key, persona_id, entry_type, points, created_at) "
        "VALUES (:k, :k, :p, :t, :n, :now)": [
            {"k": "e1", "p": "p1", "t": "earn", "n": 30, "now": now}, {"k": "e2", "p": "p2", "t": "earn", "n": 5, "now": now},
            {"k": "e3", "p": "p2", "t": "redeem", "n": -10, "now": now}, {"k": "e4", "p": "p3", "t": "earn", "n": 7, "now": now}],
        "INSERT INTO opt_in_requests (persona_id, attempt, phone, store_id, status, idempotency_key, requested_at, run_id) "
        "VALUES (:p, :a, '+13035550100', :store, :status, :k, :now, 'run-1')": [
            {"p": "p1", "a": 1, "store": "den", "status": "sent", "k": "o1", "now": now},
            {"p": "p2", "a": 1, "store": "den", "status": "confirmed", "k": "o2", "now": now},
            {"p": "p3", "a": 1, "store": "nyc", "status": "expired", "k": "o3", "now": now},
            {"p": "p3", "a": 2, "store": "nyc", "status": "sent", "k": "o4", "now": now}],
        "INSERT INTO quarantine (quarantine_id, credential, entity, record_key, location_id, held, reasons, reason_code, "
        "payload, run_id, first_run_id, quarantined_at, last_seen_at, released_at) VALUES (:q, 'trident1_acme', :e, "
        ":q, :loc, :held, '[]', :code, '{}', 'run-1', 'run-1', :now, :now, :rel)": [
            {"q": "q1", "e": "sale", "loc": "LOC-9", "held": True, "code": "unmapped_location", "now": now, "rel": None},
            {"q": "q2", "e": "sale", "loc": "LOC-9", "held": True, "code": "unmapped_location", "now": now, "rel": None},
            {"q": "q3", "e": "sale", "loc": "LOC-1", "held": False, "code": "missing_id", "now": now, "rel": None},
            {"q": "q4", "e": "refund", "loc": "LOC-1", "held": False, "code": "bad_money", "now": now, "rel": now}],
    }
    with wh.begin() as conn:
        for sql, params in rows.items():
            wh.execute(conn, sql, [{k: Decimal(v) if k in ("sub", "disc", "qty", "price") else v
                                    for k, v in dict(p, now=now).items()} for p in params])
    return d


def expected_answers(d) -> dict[str, list[tuple]]:
    return {
        # den 1 day ago: s1 + s2 (the voided s3 does not count), refund 2.00; den 2 days ago: a covered day
        # with no sales; nyc 3 days ago: its only run failed. den 10 days ago is outside the 7 days.
        "Daily sales by store, last 7 days": [("den", d[1], 2, "15.60", "2.00", True), ("den", d[2], 0, 0, 0, True),
                                              ("nyc", d[3], 1, "20.20", 0, False)],
        "Days with sales that no run covered (figures may be incomplete)": [("nyc", d[3], 1), ("den", d[10], 1)],
        "Top personas by spend": [("p1", 2, "30.30"), ("p3", 1, "7.25"), ("p2", 1, "5.50")],
        "Points liability: what members could still redeem": [(37,)],
        "Opt-in funnel by store": [("den", "confirmed", 1), ("den", "sent", 1), ("nyc", "expired", 1),
                                   ("nyc", "sent", 1)],
        "Sales by category, yesterday": [("den", "knives", 1, "10.10"), ("den", "sharpeners", 1, "5.50")],
        "Open quarantine by reason code": [("trident1_acme", "sale", True, "unmapped_location", 2),
                                           ("trident1_acme", "sale", False, "missing_id", 1)],
        "Unmapped locations and what is held for them": [("trident1_acme", "LOC-9", 2)],
    }


def test_every_example_query_gives_the_expected_answer(warehouse):
    from datetime import date
    from decimal import Decimal

    with warehouse.begin() as conn:
        today = warehouse.execute(conn, "SELECT CURRENT_DATE").scalar()
    today = today if isinstance(today, date) else date.fromisoformat(str(today))
    d = _fixture(warehouse, today)
    expected = expected_answers(d)
    ran = set()
    for title, dialect, sql in example_queries():
        assert title in expected, f"docs/warehouse.md: example {title!r} has no expected answer in this test"
        if dialect not in (None, warehouse.dialect):
            continue
        with warehouse.begin() as conn:
            raw = [tuple(row) for row in warehouse.execute(conn, sql)]
        # issue 19 item 16: what the docs advise gives exact decimals — no float artefacts on SQLite
        artefacts = [v for row in raw for v in row if isinstance(v, float)
                     and Decimal(repr(v)) != Decimal(repr(v)).quantize(Decimal("0.01"))]
        assert artefacts == [], f"{title} on {warehouse.dialect} returns {artefacts}: round money as the docs advise"
        got = [tuple(_norm(v) for v in row) for row in raw]
        want = [tuple(_norm(Decimal(v) if isinstance(v, str) and v[:1].isdigit() and "." in v else v) for v in row)
                for row in expected[title]]
        assert got == want, f"{title} on {warehouse.dialect}:\n{sql}"
        ran.add(title)
    assert ran == set(expected), f"examples not run on {warehouse.dialect}: {set(expected) - ran}"
