"""The console's data functions on both databases: what each page shows, from a warehouse whose
contents are known (no Airflow involved)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from trident1_aiq.console import data
from trident1_aiq.settings.config import VAR_MAPPINGS, VAR_STORES, VARIABLES, default_variable_text

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
TODAY = NOW.date()


def day(n: int):
    return TODAY - timedelta(days=n)


def texts(**override) -> dict[str, str | None]:
    out = {name: default_variable_text(name) for name in VARIABLES}
    out.update(override)
    return out


def seed(wh) -> None:
    now = NOW
    ins = {
        "INSERT INTO trident1_locations (credential, location_id, name, timezone, active, last_seen_at) "
        "VALUES (:c, :l, :n, 'America/Denver', TRUE, :now)": [
            {"c": "trident1_acme", "l": f"LOC-{i}", "n": f"Store {i}"} for i in (1, 2, 3, 4)]
        + [{"c": "trident1_bolt", "l": "LOC-1", "n": "Loop"}],
        "INSERT INTO quarantine (quarantine_id, credential, entity, record_key, location_id, held, reasons, "
        "reason_code, payload, run_id, first_run_id, quarantined_at, quarantined_on, last_seen_at, released_at) "
        "VALUES (:q, 'trident1_acme', :e, :q, :l, :held, :r, :code, :p, 'run', 'run', :at, :on, :at, :rel)": [
            {"q": "h1", "e": "sale", "l": "LOC-4", "held": True, "code": "unmapped_location", "on": day(1), "rel": None},
            {"q": "h2", "e": "refund", "l": "LOC-4", "held": True, "code": "unmapped_location", "on": day(1), "rel": None},
            {"q": "h3", "e": "sale", "l": "LOC-4", "held": True, "code": "unmapped_location", "on": day(2), "rel": now},
            {"q": "h4", "e": "sale", "l": "LOC-2", "held": True, "code": "unmapped_location", "on": day(9), "rel": None},
            {"q": "r1", "e": "sale", "l": "LOC-1", "held": False, "code": "missing_id", "on": day(2), "rel": None},
            {"q": "r2", "e": "sale", "l": "LOC-1", "held": False, "code": "bad_money", "on": day(2), "rel": now},
        ],
        "INSERT INTO sales (credential, sale_id, store_id, location_id, status, sold_at, business_date, subtotal, "
        "discount_total, tax_total, total, updated_at, loaded_at, run_id) VALUES ('trident1_acme', :s, "
        "'den-downtown', 'LOC-1', 'completed', :sold, :d, 1, 0, 0, 1, :now, :now, 'run')": [
            {"s": "s1", "d": day(1), "sold": NOW - timedelta(hours=18)},
            {"s": "s2", "d": day(1), "sold": NOW - timedelta(hours=19)},
            {"s": "s3", "d": day(1), "sold": NOW - timedelta(hours=20)},
            {"s": "s4", "d": day(4), "sold": NOW - timedelta(days=4)}],
        "INSERT INTO refunds (credential, refund_id, sale_id, location_id, store_id, refunded_at, business_date, "
        "amount, tax, total, loaded_at, run_id) VALUES ('trident1_acme', 'f1', 's1', 'LOC-1', 'den-downtown', "
        ":now, :d, 1, 0, 1, :now, 'run')": [{"d": day(1)}],
        "INSERT INTO etl_runs (run_id, credential, business_date, status, started_at, finished_at, points_earned, "
        "points_reversed, opt_ins_sent, released) VALUES (:r, :c, :d, :st, :start, :end, :pe, :pr, :oi, :rel)": [
            {"r": "a1", "c": "trident1_acme", "d": day(1), "st": "success", "start": NOW - timedelta(minutes=10),
             "end": NOW - timedelta(minutes=9), "pe": 10, "pr": 2, "oi": 1, "rel": 1},
            {"r": "a2", "c": "trident1_acme", "d": day(2), "st": "success", "start": NOW - timedelta(days=1),
             "end": NOW - timedelta(days=1) + timedelta(seconds=30), "pe": 5, "pr": 0, "oi": 0, "rel": 0},
            {"r": "a3", "c": "trident1_acme", "d": day(3), "st": "failed", "start": NOW - timedelta(days=2),
             "end": NOW - timedelta(days=2), "pe": 0, "pr": 0, "oi": 0, "rel": 0},
            {"r": "a5", "c": "*", "d": day(5), "st": "failed", "start": NOW - timedelta(days=4),
             "end": NOW - timedelta(days=4), "pe": 0, "pr": 0, "oi": 0, "rel": 0},
            {"r": "a1", "c": "trident1_bolt", "d": day(1), "st": "success", "start": NOW - timedelta(minutes=10),
             "end": NOW - timedelta(minutes=8), "pe": 1, "pr": 0, "oi": 0, "rel": 0}],
        "INSERT INTO etl_run_locations (run_id, credential, location_id, store_id, released) "
        "VALUES ('a1', 'trident1_acme', :l, :s, :rel)": [
            {"l": "LOC-1", "s": "den-downtown", "rel": 0}, {"l": "LOC-4", "s": None, "rel": 0}],
    }
    with wh.begin() as conn:
        for sql, rows in ins.items():
            wh.execute(conn, sql, [dict({"now": now, "at": now, "r": json.dumps(["x: y"]), "p": "{}"}, **r)
                                   for r in rows])


def test_mappings_page(warehouse):
    seed(warehouse)
    mappings = json.loads(default_variable_text(VAR_MAPPINGS)) + [
        {"credential": "trident1_acme", "location_id": "LOC-7", "store_id": "nyc-soho"}]  # not reported (yet)
    page = data.mappings_page(warehouse, texts(**{VAR_MAPPINGS: json.dumps(mappings)}))
    assert page.credentials == ["trident1_acme", "trident1_bolt"]
    acme = {r.location_id: r for r in page.locations["trident1_acme"]}
    assert [r.location_id for r in page.locations["trident1_acme"]] == ["LOC-1", "LOC-2", "LOC-3", "LOC-4", "LOC-7"]
    assert acme["LOC-4"].store_id is None and acme["LOC-4"].held_records == 2  # h3 was released
    assert acme["LOC-1"].store_id == "den-downtown" and acme["LOC-1"].store_name == "Mile High Downtown"
    assert acme["LOC-7"].reported is False and acme["LOC-1"].reported is True
    assert page.held_next_run == 1  # h4: LOC-2 is mapped, the next run loads it
    assert page.held_unmapped == 2
    assert {s["id"] for s in page.stores} == {"den-downtown", "nyc-soho", "la-venice", "chi-loop"}
    assert page.problems == []
    broken = data.mappings_page(warehouse, texts(**{VAR_STORES: "[]"}))
    assert any("does not exist in aiq_retail_stores" in p for p in broken.problems)


def test_edit_and_validate(warehouse):
    seed(warehouse)
    current = default_variable_text(VAR_MAPPINGS)
    new = data.edit_mappings(current, "trident1_acme", "LOC-4", "den-downtown")
    assert new[-1] == {"credential": "trident1_acme", "location_id": "LOC-4", "store_id": "den-downtown"}
    remapped = data.edit_mappings(current, "trident1_acme", "LOC-1", "chi-loop")
    assert remapped[0]["store_id"] == "chi-loop" and len(remapped) == len(json.loads(current))
    removed = data.edit_mappings(current, "trident1_acme", "LOC-1", None)
    assert all(m["location_id"] != "LOC-1" or m["credential"] != "trident1_acme" for m in removed)
    reported = data.reported_locations(warehouse)
    settings, problems = data.validate_edit(texts(), new, reported, "trident1_acme", "LOC-4", "den-downtown")
    assert problems == [] and settings.mapping_for("trident1_acme")["LOC-4"] == "den-downtown"
    bad = data.edit_mappings(current, "trident1_acme", "LOC-9", "den-downtown")
    _, problems = data.validate_edit(texts(), bad, reported, "trident1_acme", "LOC-9", "den-downtown")
    assert problems == ["trident1_store_mappings: location 'LOC-9' is not one that 'trident1_acme' reported "
                        "(trident1_locations)"]
    # Unmapping a location the API no longer reports is allowed (rule 6: taking a mapping away).
    _, problems = data.validate_edit(texts(), removed, set(), "trident1_acme", "LOC-1", None)
    assert problems == []


def test_health_marks_missing_and_failed_days(warehouse):
    seed(warehouse)
    creds = {c.credential: c for c in data.health(warehouse, texts(), NOW)}
    acme = creds["trident1_acme"]
    locs = {loc.location_id: loc for loc in acme.locations}
    cells = {c.day: c for c in locs["LOC-1"].days}
    assert len(cells) == data.HEALTH_DAYS and max(cells) == day(1) and min(cells) == day(30)
    assert (cells[day(1)].state, cells[day(1)].sales, cells[day(1)].refunds) == ("ok", 3, 1)
    assert (cells[day(2)].state, cells[day(2)].quarantined, cells[day(2)].still_quarantined) == ("ok", 2, 1)
    assert cells[day(3)].state == "failed"
    assert cells[day(5)].state == "failed"  # a configuration failure (credential '*') stops every credential
    assert (cells[day(4)].state, cells[day(4)].sales) == ("missing", 1)  # data via look-back, no run of its own
    assert (cells[day(6)].state, cells[day(6)].sales) == ("missing", 0)  # missing, not zero sales
    assert (acme.days_missing, acme.days_failed) == (26, 2)
    assert (acme.points_earned, acme.points_reversed, acme.opt_ins_sent) == (15, 2, 1)
    assert acme.last_run["run_id"] == "a1" and acme.last_run["seconds"] == 60
    assert locs["LOC-4"].open_held == 2 and {c.day: c.still_held for c in locs["LOC-4"].days}[day(1)] == 2
    assert locs["LOC-1"].stale is False and locs["LOC-2"].stale is True and locs["LOC-4"].stale is False
    assert locs["LOC-1"].sales == 4 and locs["LOC-1"].open_rejected == 1
    assert creds["trident1_bolt"].days_missing == 28  # day 1 ok, day 5 failed ('*')


def test_quarantine_page_filters(warehouse):
    seed(warehouse)
    everything = data.quarantine_page(warehouse, data.clean_filter({}))
    assert everything.total == 4 and {r["quarantine_id"] for r in everything.rows} == {"h1", "h2", "h4", "r1"}
    assert everything.facets["reason"] == ["missing_id", "unmapped_location"]
    held = data.quarantine_page(warehouse, data.clean_filter({"kind": "held", "location": "LOC-4"}))
    assert {r["quarantine_id"] for r in held.rows} == {"h1", "h2"}
    by_day = data.quarantine_page(warehouse, data.clean_filter({"day": day(2).isoformat()}))
    assert [r["quarantine_id"] for r in by_day.rows] == ["r1"]
    by_entity = data.quarantine_page(warehouse, data.clean_filter({"entity": "refund", "credential": "trident1_acme"}))
    assert [r["quarantine_id"] for r in by_entity.rows] == ["h2"]
    paged = data.quarantine_page(warehouse, data.clean_filter({"page": "2"}), per_page=3)
    assert paged.pages == 2 and len(paged.rows) == 1
    past_the_end = data.quarantine_page(warehouse, data.clean_filter({"page": "5"}), per_page=3)
    assert (past_the_end.filter.page, past_the_end.pages, past_the_end.rows) == (2, 2, paged.rows)


def test_points_are_every_runs_in_the_window_not_the_latest_per_day(warehouse):
    """Issue 19, item 1: a second run of the same day adds what it credited (the ledger is idempotent,
    so a rerun's own figure is what the earlier runs did not credit); the page equals a SQL sum."""
    seed(warehouse)
    with warehouse.begin() as conn:
        warehouse.execute(conn, "INSERT INTO etl_runs (run_id, credential, business_date, status, started_at, "
                                "finished_at, points_earned, points_reversed, opt_ins_sent) VALUES ('a1b', "
                                "'trident1_acme', :d, 'success', :s, :s, 7, 3, 2)",
                          {"d": day(1), "s": NOW - timedelta(minutes=5)})
    first, last = data.health_window(TODAY)
    with warehouse.begin() as conn:
        want = conn.execute(text("SELECT SUM(points_earned), SUM(points_reversed), SUM(opt_ins_sent) FROM etl_runs "
                                 "WHERE credential = 'trident1_acme' AND business_date BETWEEN :f AND :l"),
                            {"f": first, "l": last}).one()
    acme = {c.credential: c for c in data.health(warehouse, texts(), NOW)}["trident1_acme"]
    assert (acme.points_earned, acme.points_reversed, acme.opt_ins_sent) == tuple(int(v) for v in want) == (22, 5, 3)


def test_quarantine_counts_on_each_records_business_day_and_agrees_with_the_quarantine_page(warehouse):
    """Issue 19, item 2: a record met by a run on (UTC) day 0 but sold on day 3 is drawn on day 3, as its
    sale would be; "rejected (open)" and "held now" are what the Quarantine page lists."""
    seed(warehouse)
    rows = [{"q": f"b{i}", "held": held, "on": TODAY, "bd": day(n), "loc": loc}
            for i, (held, n, loc) in enumerate([(False, 3, "LOC-1"), (False, 3, "LOC-1"), (True, 4, "LOC-4"),
                                                (False, 40, "LOC-1")])]
    with warehouse.begin() as conn:
        warehouse.execute(conn, "INSERT INTO quarantine (quarantine_id, credential, entity, record_key, location_id, "
                                "held, reasons, reason_code, payload, run_id, first_run_id, quarantined_at, "
                                "quarantined_on, business_date, last_seen_at) VALUES (:q, 'trident1_acme', 'sale', "
                                ":q, :loc, :held, '[]', 'x', '{}', 'run', 'run', :now, :on, :bd, :now)",
                          [dict(r, now=NOW) for r in rows])
    acme = {c.credential: c for c in data.health(warehouse, texts(), NOW)}["trident1_acme"]
    locs = {loc.location_id: loc for loc in acme.locations}
    first, last = data.health_window(TODAY)
    with warehouse.begin() as conn:
        by_day = {(r[0], r[1], bool(r[2])): int(r[3]) for r in conn.execute(text(
            "SELECT location_id, COALESCE(business_date, quarantined_on), held, COUNT(*) FROM quarantine "
            "WHERE released_at IS NULL AND credential = 'trident1_acme' "
            "AND COALESCE(business_date, quarantined_on) BETWEEN :f AND :l GROUP BY 1, 2, 3"),
            {"f": first, "l": last})}
    drawn = {(loc.location_id, c.day.isoformat(), kind): n for loc in acme.locations for c in loc.days
             for kind, n in ((False, c.still_quarantined), (True, c.still_held)) if n}
    assert drawn == {(loc, str(d)[:10], held): n for (loc, d, held), n in by_day.items()}
    assert {c.day: c.still_quarantined for c in locs["LOC-1"].days}[day(3)] == 2
    assert {c.day: c.still_held for c in locs["LOC-4"].days}[day(4)] == 1
    for loc in ("LOC-1", "LOC-4", "LOC-2"):
        for kind, shown in (("rejected", locs[loc].open_rejected), ("held", locs[loc].open_held)):
            page = data.quarantine_page(warehouse, data.clean_filter({"location": loc, "kind": kind}))
            assert shown == page.total, (loc, kind)
    assert locs["LOC-1"].open_rejected == 4  # r1 and the three above, one of them outside the window
    # The bar's link (its business day) lists exactly the bar's records.
    linked = data.quarantine_page(warehouse, data.clean_filter({"location": "LOC-1", "day": day(3).isoformat(),
                                                                "kind": "rejected"}))
    assert {r["quarantine_id"] for r in linked.rows} == {"b0", "b1"}


def test_ingest_writes_each_quarantined_records_business_day(warehouse, sandbox, settings):
    """Item 2's other half: the load stores the record's own business day beside the UTC day it was met."""
    from tests.factories import ingest

    ingest(warehouse, sandbox, settings)
    with warehouse.begin() as conn:
        held = conn.execute(text("SELECT q.business_date FROM quarantine AS q WHERE q.held = TRUE "
                                 "AND q.entity = 'sale'")).all()
        sold = {str(r[0])[:10] for r in conn.execute(text("SELECT DISTINCT business_date FROM sales")).all()}
    assert held and all(r[0] is not None for r in held)
    assert {str(r[0])[:10] for r in held} <= sold | {str(d) for d in data.health_window(sandbox.state.now.date())}


@pytest.mark.parametrize("value", ["\x00", "LOC\x00-1", "\x1b[31m", "\x07"])
def test_a_control_character_in_a_filter_never_reaches_the_database(warehouse, value):
    """Item 20: PostgreSQL refuses NUL in text (psycopg.DataError, a 500): the filter is refused first."""
    seed(warehouse)
    with pytest.raises(data.BadFilter, match="control character"):
        data.quarantine_page(warehouse, data.clean_filter({"location": value}))
    assert data.quarantine_page(warehouse, data.clean_filter({"location": "LOC-1 é ✓"})).total == 0


def test_pending_migrations_reads_without_writing(warehouse, tmp_path):
    """Item 7: what the console asks instead of migrating; an empty database stays empty."""
    from tests.factories import drop_pg_database, make_pg_database
    from trident1_aiq.warehouse import Warehouse, sqlite_url

    assert warehouse.pending_migrations() == []
    if warehouse.dialect == "sqlite":
        missing = tmp_path / "nothing.db"
        empty = Warehouse(sqlite_url(missing))
        assert empty.pending_migrations()[0] == "001_core" and not missing.exists()
        empty.dispose()
        return
    name, url = make_pg_database()
    empty = Warehouse(url)
    try:
        pending = empty.pending_migrations()
        assert pending == [n for _v, n, _p in empty.migrations()] and empty.tables() == {}
    finally:
        empty.dispose()
        drop_pg_database(name)


def test_every_health_figure_equals_a_sql_over_the_warehouse(warehouse, sandbox, settings):
    """Issue 19's "done when": after two runs of the sandbox (another day, then the same day again),
    each per-location figure of Integration health is what a SQL over the warehouse says."""
    from tests.factories import DAY, NOW, ingest
    from trident1_aiq.warehouse import parse_db_time

    ingest(warehouse, sandbox, settings, run_id="r1", day=DAY - timedelta(days=1))
    ingest(warehouse, sandbox, settings, run_id="r2", day=DAY)
    now = NOW + timedelta(hours=1)
    first, last = data.health_window(now.date())
    creds = data.health(warehouse, texts(), now)
    shown = {(c.credential, loc.location_id): loc for c in creds for loc in c.locations}

    def grouped(sql: str) -> dict:
        with warehouse.begin() as conn:
            return {(r[0], r[1], str(r[2])[:10]): int(r[3]) for r in conn.execute(text(sql), {"f": first, "l": last})}

    sales = grouped("SELECT credential, location_id, business_date, COUNT(*) FROM sales "
                    "WHERE business_date BETWEEN :f AND :l GROUP BY 1, 2, 3")
    refunds = grouped("SELECT credential, location_id, business_date, COUNT(*) FROM refunds "
                      "WHERE business_date BETWEEN :f AND :l GROUP BY 1, 2, 3")
    assert sales and refunds
    for (cred, loc, d), n in sales.items():
        assert {c.day.isoformat(): c.sales for c in shown[(cred, loc)].days}[d] == n
    for (cred, loc, d), n in refunds.items():
        assert {c.day.isoformat(): c.refunds for c in shown[(cred, loc)].days}[d] == n
    assert sum(loc.sales for loc in shown.values()) == sum(sales.values())
    assert sum(loc.refunds for loc in shown.values()) == sum(refunds.values())
    with warehouse.begin() as conn:
        open_q = {(r[0], r[1], bool(r[2])): int(r[3]) for r in conn.execute(text(
            "SELECT credential, location_id, held, COUNT(*) FROM quarantine WHERE released_at IS NULL "
            "GROUP BY 1, 2, 3"))}
        newest = {(r[0], r[1]): parse_db_time(r[2]) for r in conn.execute(text(
            "SELECT credential, location_id, MAX(sold_at) FROM sales GROUP BY 1, 2"))}
    for key, loc in shown.items():
        assert loc.open_held == open_q.get((*key, True), 0), key
        assert loc.open_rejected == open_q.get((*key, False), 0), key
        assert loc.newest_sale == newest.get(key), key
