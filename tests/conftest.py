"""Shared fixtures: the sandbox, warehouses on SQLite and PostgreSQL, settings (helpers: factories.py).

Airflow's environment is set here, before anything imports Airflow: a private
AIRFLOW_HOME per test session, examples off, this repo's dags/ and plugins/.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from .factories import NOW, ROOT, drop_pg_database, make_pg_database, require_postgres

_HOME = Path(tempfile.mkdtemp(prefix="t1-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["GX_ANALYTICS_ENABLED"] = "false"

from trident1_aiq.settings.config import demo_settings  # noqa: E402
from trident1_aiq.warehouse import Warehouse, sqlite_url  # noqa: E402
from trident1_sandbox import SandboxState, ServerThread  # noqa: E402


@pytest.fixture
def sandbox():
    """A sandbox with the pinned clock; faults off. Function-scoped: tests may reconfigure it."""
    with ServerThread(SandboxState(now=NOW)) as server:
        yield server


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
