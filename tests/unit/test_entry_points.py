"""What an installed package tells Airflow, read the way Airflow reads it.

setuptools writes the package's metadata from ``pyproject.toml`` (``egg_info``, into a folder of its
own, from a copy of the sources), and a fresh interpreter with that metadata on its path runs
Airflow's own discovery: the plugins manager for the console (``airflow.plugins``), the providers
manager for the Trident1 connection type (``apache_airflow_provider``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ..factories import ROOT

pytestmark = pytest.mark.unit

PLUGINS_PROBE = """
import json
from airflow import plugins_manager
plugins, errors = plugins_manager._get_plugins()
print(json.dumps({"plugins": [[p.name, type(p.source).__name__] for p in plugins], "errors": errors}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A folder holding the package's metadata as setuptools writes it from pyproject.toml."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("plugins", "include", "config"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "trident1_sandbox"))
    site = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "egg_info", "--egg-base", str(site)],
                   cwd=src, check=True, capture_output=True, timeout=120)
    assert list(site.glob("trident1_aiq.egg-info"))
    return site


def airflow_probe(code: str, tmp_path: Path, *, metadata: Path | None, plugins_folder: Path) -> dict:
    """Run ``code`` in a fresh interpreter: the package importable from the checkout, its installed
    metadata on the path only when ``metadata`` is given."""
    path = [str(metadata)] if metadata else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"PYTHONPATH": os.pathsep.join([*path, str(ROOT / "plugins")]), "AIRFLOW_HOME": str(tmp_path / "home"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "no-dags")})
    out = subprocess.run([sys.executable, "-c", code], check=False, env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pyproject_registers_the_console_through_the_airflow_plugins_entry_point():
    from importlib.metadata import EntryPoint

    from airflow.plugins_manager import AirflowPlugin

    points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["airflow.plugins"]
    plugin = EntryPoint("trident1_console", points["trident1_console"], "airflow.plugins").load()
    assert issubclass(plugin, AirflowPlugin) and plugin.name == "trident1_console"
    assert {v["href"] for v in plugin.external_views} == {"/trident1/mappings", "/trident1/health",
                                                          "/trident1/quarantine"}


def test_installed_package_registers_the_console_once_beside_the_plugin_file(installed, tmp_path):
    """The wheel's entry point registers the console; plugins/trident1_console.py then stays quiet
    (a second registration is skipped by Airflow and listed as a plugin import error)."""
    found = airflow_probe(PLUGINS_PROBE, tmp_path, metadata=installed, plugins_folder=ROOT / "plugins")
    assert found == {"plugins": [["trident1_console", "EntryPointSource"]], "errors": {}}


def test_installed_package_needs_no_plugin_file(installed, tmp_path):
    empty = tmp_path / "plugins"
    empty.mkdir()
    found = airflow_probe(PLUGINS_PROBE, tmp_path, metadata=installed, plugins_folder=empty)
    assert found == {"plugins": [["trident1_console", "EntryPointSource"]], "errors": {}}


def test_checkout_without_the_package_installed_registers_the_console_from_the_plugin_file(tmp_path):
    found = airflow_probe(PLUGINS_PROBE, tmp_path, metadata=None, plugins_folder=ROOT / "plugins")
    assert found == {"plugins": [["trident1_console", "PluginsDirectorySource"]], "errors": {}}
