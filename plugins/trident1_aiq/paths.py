"""Where the package's files live: the SQL statements and the default Variables.

The one place that knows both layouts (every other module imports these constants):

* **source tree** and the **Docker image**: this package is ``plugins/trident1_aiq``;
  the SQL is ``include/sql`` and the defaults are ``config/`` two levels up (the
  repository root, ``/opt/airflow`` in the image);
* **installed wheel** (``pip install .``): the same files travel inside the package as
  ``trident1_aiq/sql`` and ``trident1_aiq/default_config`` (package data mapped in
  by ``pyproject.toml``; the folders stay where they are in the repository).

The installed copy wins when present. ``REPO_ROOT`` is the source checkout's root; it
means something only in a checkout (the demo writes ``var/`` and finds ``dags/`` there).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parents[1]


def _first_dir(installed: Path, source: Path) -> Path:
    return installed if installed.is_dir() else source


#: ``include/sql``: migrations and statements, dialect variants beside them.
SQL_DIR = _first_dir(PACKAGE_DIR / "sql", REPO_ROOT / "include" / "sql")
#: ``config/``: the starting values of the four Variables (the demo's and the tests').
CONFIG_DIR = _first_dir(PACKAGE_DIR / "default_config", REPO_ROOT / "config")
