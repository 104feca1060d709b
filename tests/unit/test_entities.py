"""The entity declarations agree with the warehouse and the run book they name."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from trident1_aiq.ingest.entities import ENTITIES
from trident1_aiq.ingest.normalize import normalize_refund, normalize_sale
from trident1_aiq.ingest.schema import SALES, TABLES, Table
from trident1_aiq.ingest.staging import stage_refunds, stage_sales
from trident1_aiq.runs import MEASURES
from trident1_aiq.warehouse import COPY_RE, Warehouse, split_statements, sql_text, sqlite_url

from ..factories import sale

pytestmark = pytest.mark.unit


def test_each_entity_key_is_its_tables_primary_key(tmp_path):
    wh = Warehouse(sqlite_url(tmp_path / "w.db"))
    wh.migrate()
    insp = inspect(wh.engine)
    try:
        for e in ENTITIES:
            assert tuple(insp.get_pk_constraint(e.table)["constrained_columns"]) == e.key, e.name
    finally:
        wh.dispose()


def test_entities_count_into_ingest_measures_and_merge_completely():
    assert [e.name for e in ENTITIES] == ["customer", "sale", "refund"]  # personas first, refunds after their sales
    for e in ENTITIES:
        assert e.read in MEASURES["ingest"]
        assert e.path.startswith("/") and e.key[0] == "credential"
        merges = (e.stage, e.merged, e.release, e.known, e.validate)
        assert all(merges) if e.merge else not any(merges), e.name  # a merged entity is declared whole
        assert e.located or not e.merge  # what is merged is mapped to a store by its location


# ------------------------------------------------------------------ each table's columns, declared once

TYPE = r"(VARCHAR\(\d+\)|NUMERIC\(\d+,\d+\)|TIMESTAMP WITH TIME ZONE|DATE|INTEGER|BOOLEAN)"


def _create(sql: str, table: str, temporary: bool) -> list[tuple[str, str, bool]]:
    """(name, type, nullable) of ``table``'s columns in a CREATE TABLE statement of ``sql``."""
    head = r"CREATE TEMPORARY TABLE IF NOT EXISTS " if temporary else r"CREATE TABLE "
    body = re.search(head + table + r" \((.*?)\n?\);", sql, re.DOTALL)
    assert body, f"no CREATE TABLE {table}"
    return [(m[0], m[1], not m[2]) for m in re.findall(r"(\w+)\s+" + TYPE + r"(\s+NOT NULL)?", body.group(1))]


def _names(listed: str) -> list[str]:
    """``a, s.b, :c`` → ``[a, b, c]``."""
    return [re.sub(r"^(\w+\.|:)", "", part.strip()) for part in listed.split(",")]


def schema_problems(table: Table, sql_of) -> list[str]:
    """Where the SQL and the staging rows disagree with ``table``'s declared columns.
    ``sql_of(name, dialect)`` is the SQL of a named query (``warehouse.sql_text``)."""
    want = list(table.names)
    problems = []

    def check(where: str, got: list) -> None:
        if got != want:
            problems.append(f"{table.name}: {where} lists {got}, declared {want}")

    declared = [(c.name, c.type, c.nullable) for c in table.columns]
    if _create(sql_of("migrations/001_core", "sqlite"), table.name, False) != declared:
        problems.append(f"{table.name}: migration 001 has {_create(sql_of('migrations/001_core', 'sqlite'), table.name, False)}")
    staged = _create(sql_of("load/stage_create", "postgresql"), table.staging, True)
    check("stage_create", [n for n, _, _ in staged])
    if [t for _, t, _ in staged] != [c.type for c in table.columns]:
        problems.append(f"{table.name}: stage_create's types {[t for _, t, _ in staged]}")
    copy = COPY_RE.match(split_statements(sql_of(table.stage, "postgresql"))[-1])
    check("the PostgreSQL COPY", _names(copy.group(1)) if copy else [])
    insert = re.search(r"INSERT INTO (\w+) \((.*?)\)\s*VALUES \((.*?)\)", sql_of(table.stage, "sqlite"), re.DOTALL)
    check("the SQLite INSERT", _names(insert.group(2)) if insert and insert.group(1) == table.staging else [])
    check("the SQLite INSERT's values", _names(insert.group(3)) if insert else [])
    inserts = [st for st in split_statements(sql_of(table.merge, "postgresql"))
               if st.startswith(f"INSERT INTO {table.name} ")]
    merge = re.match(rf"INSERT INTO {table.name} \((.*?)\)\s*SELECT (.*?)\s*FROM {table.staging}\b",
                     inserts[0] if len(inserts) == 1 else "", re.DOTALL)
    check(f"{table.merge}'s INSERT", _names(merge.group(1)) if merge else [])
    check(f"{table.merge}'s SELECT", _names(merge.group(2)) if merge else [])
    update = re.search(r"DO UPDATE SET(.*)$", inserts[0] if merge else "", re.DOTALL)
    if update:  # a newer version rewrites every column but the key (rule 8)
        assigned = [tuple(x.strip() for x in p.split("=")) for p in update.group(1).split(",")]
        wanted = [(n, f"excluded.{n}") for n in want if n not in table.key]
        if assigned != wanted:
            problems.append(f"{table.name}: {table.merge}'s update sets {assigned}, declared {wanted}")
    return problems


def _staged_rows() -> dict[str, list[dict]]:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    raw = sale(discounts=[{"discount_id": "D-1", "code": "TEN", "name": "10", "amount": "1.00", "in_store_only": False}])
    staged = stage_sales("c", "run", now, [(normalize_sale(raw, 0, "c", {}, "US"), "store", "p")])
    staged += stage_refunds("c", "run", now, [(normalize_refund(
        {"id": "R-1", "sale_id": "S-1", "location_id": "LOC-1", "created_at": "2026-11-25T10:00:00Z",
         "amount": "1.00", "tax": "0.00", "total": "1.00"}, 0, "c", {}), "store", None)])
    return dict(staged)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_each_tables_columns_agree_everywhere_they_are_named(table):
    assert schema_problems(table, sql_text) == []
    rows = _staged_rows()[table.stage]
    assert rows and all(set(r) == set(table.names) for r in rows), f"staging.py's rows for {table.name}"
    assert any(table in e.tables for e in ENTITIES)
    body = re.search(rf"CREATE TABLE {table.name} \((.*?)\n\);", sql_text("migrations/001_core", "sqlite"), re.DOTALL)
    assert tuple(_names(re.search(r"PRIMARY KEY \((.*?)\)", body.group(1)).group(1))) == table.key


def test_a_column_missing_from_the_copy_list_fails():
    def without_total(name, dialect):
        text = sql_text(name, dialect)
        return text.replace(", tax_total, total, currency", ", tax_total, currency") if name == SALES.stage else text

    assert any("the PostgreSQL COPY" in p for p in schema_problems(SALES, without_total))


def test_a_merge_keeping_a_sales_old_total_on_update_fails():
    def keeps_total(name, dialect):
        text = sql_text(name, dialect)
        return text.replace(" total = excluded.total,", "") if name == SALES.merge else text

    assert any("update sets" in p for p in schema_problems(SALES, keeps_total))


@pytest.mark.postgres
def test_bulk_refuses_a_row_with_a_column_the_copy_does_not_write():
    from ..factories import drop_pg_database, make_pg_database, require_postgres

    require_postgres()
    name, url = make_pg_database()
    wh = Warehouse(url)
    try:
        wh.migrate()
        with wh.begin() as conn:
            wh.run(conn, "load/seen_create")
            with pytest.raises(ValueError, match="does not write"):
                wh.bulk(conn, "load/seen_insert", [{"credential": "c", "record_id": "r", "version": "x"}])
    finally:
        wh.dispose()
        drop_pg_database(name)
