"""Console helpers without a database: filters from query strings, charts, and the environment of
``make airflow`` / ``make run`` (a user's warehouse Connection wins)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from trident1_aiq.console import data
from trident1_aiq.console.charts import day_bars
from trident1_aiq.dev.demo import run_env
from trident1_aiq.dev.local_airflow import airflow_env, cli_env

pytestmark = pytest.mark.unit


def test_clean_filter_drops_malformed_values():
    f = data.clean_filter({"day": "2026-13-40", "page": "-3", "kind": "<script>", "credential": " x " * 200})
    assert (f.day, f.page, f.kind) == ("", 1, "")
    assert len(f.credential) == 250
    assert data.clean_filter({"day": "2026-11-25", "page": "2", "kind": "held"}).params()["day_value"] == date(2026, 11, 25)


def test_chart_escapes_ids_and_marks_missing_days():
    cells = [data.DayCell(day=date(2026, 11, 24), state="missing"),
             data.DayCell(day=date(2026, 11, 25), state="ok", sales=3, still_held=1, refunds=1)]
    svg = str(day_bars(cells, 'trident1_a"><script>x</script>', "<LOC>"))
    assert "<script>" not in svg and "&lt;LOC&gt;" in svg
    assert 'data-state="missing"' in svg and "no run covered this day" in svg and 'fill="url(#hatch)"' in svg
    assert "3 sales loaded, 1 held, 0 rejected, 1 refunds" in svg
    assert "location=%3CLOC%3E" in svg and "day=2026-11-25" in svg
    # A day no run covered whose records arrived through a later run's look-back says what it holds.
    late = str(day_bars([data.DayCell(day=date(2026, 11, 30), state="missing", sales=36)], "trident1_a", "LOC-1"))
    assert "2026-11-30: no run covered this day; 36 sales loaded, 0 held, 0 rejected, 0 refunds" in late


def test_mappings_text_round_trips_hostile_values():
    hostile = [{"credential": "trident1_acme", "location_id": 'L"]\n,{"x":1}', "store_id": "s</script>"}]
    assert json.loads(data.mappings_text(hostile)) == hostile
    assert data.mappings_text([]) == "[]"


@pytest.mark.parametrize("user_conn", [None, "postgresql://u:p@db.example:5432/warehouse"])
def test_make_run_and_make_airflow_honour_a_users_warehouse(user_conn, tmp_path):
    base = {"PATH": "/usr/bin"} | ({"AIRFLOW_CONN_WAREHOUSE_DEFAULT": user_conn} if user_conn else {})
    demo = run_env("http://127.0.0.1:9999", tmp_path / "w.db", base)
    env = airflow_env(base, tmp_path / "home", 8080, "http://127.0.0.1:9999", tmp_path / "w.db")
    if user_conn:
        assert "AIRFLOW_CONN_WAREHOUSE_DEFAULT" not in demo
        assert env["AIRFLOW_CONN_WAREHOUSE_DEFAULT"] == user_conn
    else:
        assert json.loads(demo["AIRFLOW_CONN_WAREHOUSE_DEFAULT"])["host"] == str(tmp_path / "w.db")
        assert env["AIRFLOW_CONN_WAREHOUSE_DEFAULT"] == demo["AIRFLOW_CONN_WAREHOUSE_DEFAULT"]
    assert json.loads(env["AIRFLOW_CONN_TRIDENT1_ACME"])["port"] == 9999
    assert env["AIRFLOW_HOME"] == str(tmp_path / "home")
    assert Path(env["AIRFLOW__CORE__DAGS_FOLDER"]).name == "dags"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin,viewer:viewer"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"]  # one secret shared by every component


def test_demo_summary_reads_the_users_warehouse(monkeypatch, tmp_path):
    from trident1_aiq.dev.demo import warehouse_url

    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", "postgresql://u:p@db.example:5432/warehouse")
    assert warehouse_url(tmp_path / "w.db").startswith("postgresql+psycopg://u:p@db.example:5432/warehouse")
    monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT")
    assert warehouse_url(tmp_path / "w.db") == f"sqlite:///{(tmp_path / 'w.db').resolve()}"


def test_the_cli_environment_points_at_the_same_home_and_warehouse(tmp_path):
    env = cli_env({"PATH": "/usr/bin"}, tmp_path / "home", tmp_path / "w.db")
    assert env["AIRFLOW_HOME"] == str(tmp_path / "home") and Path(env["AIRFLOW__CORE__DAGS_FOLDER"]).name == "dags"
    assert json.loads(env["AIRFLOW_CONN_WAREHOUSE_DEFAULT"]) == {"conn_type": "sqlite", "host": str(tmp_path / "w.db")}
    assert env["PATH"].endswith("/usr/bin") and env["PATH"] != "/usr/bin"  # the venv's bin first
    mine = cli_env({"AIRFLOW_CONN_WAREHOUSE_DEFAULT": "postgresql://u@h/w"}, tmp_path, tmp_path / "w.db")
    assert "AIRFLOW_CONN_WAREHOUSE_DEFAULT" not in mine  # the user's own stays in force


@pytest.mark.parametrize("text", ["[" * 20_000, "[" + "9" * 5_000 + "]", b"\xff\xfe[]", "\udcff[]", "[1,", "x" * 1_000_001])
def test_parse_json_variable_reports_every_hostile_text_as_malformed(text):
    """Item 17: never RecursionError, ValueError or UnicodeError; the Variable's name in the message."""
    from trident1_aiq.settings.config import ConfigError, UnreadableText, parse_json_variable

    with pytest.raises(ConfigError) as exc:
        parse_json_variable("trident1_store_mappings", text)
    assert exc.value.problems[0].startswith("trident1_store_mappings: ")
    with pytest.raises(ConfigError, match="cannot be read"):
        parse_json_variable("x", UnreadableText("OperationalError"))
    assert data.parse_list(text if isinstance(text, str) else None) == []
    assert data.variable_problems({"trident1_store_mappings": text if isinstance(text, str) else "["})


def test_masked_payload_keeps_money_and_lines_and_hides_the_person():
    from tests.factories import sale

    raw = sale(note="call Ana on 303 555 0101")
    raw["customer"]["birth_date"] = "1990-04-01"
    masked = data.mask_payload(raw)
    assert set(masked["customer"].values()) == {data.MASK} and masked["note"] == data.MASK
    assert masked["items"][0]["name"] == "Knife" and masked["total"] == "36.70" and masked["id"] == "S-1"
    assert data.mask_payload({"_raw": ["a@b.co"]}) == {"_raw": [data.MASK]} and data.mask_payload("x") == data.MASK


def test_trigger_days_are_bounded():
    today = date(2026, 11, 26)
    assert data.trigger_day_problem(date(2026, 11, 25), today, date(2026, 1, 1), 366) is None
    assert "has not ended" in data.trigger_day_problem(today, today, None, 366)
    assert "before 2026-01-01" in data.trigger_day_problem(date(2025, 12, 31), today, date(2026, 1, 1), 366)
    assert "before 2025-11-25" in data.trigger_day_problem(date(1, 1, 1), today, None, 366)


def test_a_save_starts_only_from_a_variable_that_is_set_and_parses():
    from trident1_aiq.settings.config import ConfigError

    for text, why in ((None, "is not set"), ("[", "malformed"), ("{}", "is not a JSON list")):
        with pytest.raises(ConfigError, match=why):
            data.edit_mappings(text, "trident1_acme", "LOC-1", "den-downtown")
    kept = data.edit_mappings('[{"odd": 1}, "x"]', "trident1_acme", "LOC-1", "den-downtown")
    assert kept[:2] == [{"odd": 1}, "x"]  # entries the page could not show are kept
