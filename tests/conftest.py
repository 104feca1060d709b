"""Shared fixtures: the sandbox, warehouses on SQLite and PostgreSQL, settings.

Airflow's environment is set here, before anything imports Airflow: a private
AIRFLOW_HOME per test session, examples off, this repo's dags/ and plugins/.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

_HOME = Path(tempfile.mkdtemp(prefix="t1-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["GX_ANALYTICS_ENABLED"] = "false"

from trident1_aiq.config import demo_settings, trident1_credential  # noqa: E402
from trident1_aiq.sandbox import SandboxState, ServerThread  # noqa: E402
from trident1_aiq.warehouse import Warehouse, sqlite_url  # noqa: E402

#: The sandbox clock in tests: early on 2026-11-26 UTC, so business day 2026-11-25 is complete.
NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
DAY = date(2026, 11, 25)
PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
API_KEYS = {"acme": "sandbox-acme-key", "bolt": "sandbox-bolt-key"}


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:
        return False


def require_postgres() -> None:
    if not pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required when CI=true")
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")


def make_pg_database() -> tuple[str, str]:
    import psycopg

    name = f"t1_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sandbox():
    """A sandbox with the pinned clock; faults off. Function-scoped: tests may reconfigure it."""
    with ServerThread(SandboxState(now=NOW)) as server:
        yield server


def credential_for(server: ServerThread, name: str, key: str | None = None):
    return trident1_credential(f"trident1_{name}", host=f"{server.host}:{server.port}", schema="http", port=None,
                               password=key or API_KEYS[name], extra={"store_name": name})


@pytest.fixture
def settings():
    return demo_settings({})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request, tmp_path):
    """A migrated, empty warehouse on each database."""
    if request.param == "sqlite":
        wh = Warehouse(sqlite_url(tmp_path / "warehouse.db"))
        wh.migrate()
        yield wh
        wh.dispose()
        return
    require_postgres()
    name, url = make_pg_database()
    wh = Warehouse(url)
    wh.migrate()
    try:
        yield wh
    finally:
        wh.dispose()
        drop_pg_database(name)


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB in this session's private AIRFLOW_HOME, migrated once."""
    import subprocess

    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=os.environ.copy(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    return Path(os.environ["AIRFLOW_HOME"])
