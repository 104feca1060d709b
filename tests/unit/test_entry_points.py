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


# The test's venv may hold the package already (``make install`` does ``pip install -e .``): the probe
# sees only the metadata the test gives it, so every other trident1-aiq distribution is hidden.
# Airflow reads entry points through importlib_metadata on Python 3.11, the console through the stdlib.
ONLY_GIVEN_METADATA = """
import importlib.metadata, importlib_metadata, os
def _only_given(everything, given=os.environ.get("PROBE_METADATA") or None):
    def distributions(**kw):
        for d in everything(**kw):
            ours = (d.metadata["Name"] or "").lower().replace("_", "-") == "trident1-aiq"
            if not ours or (given and str(getattr(d, "_path", "")).startswith(given)):
                yield d
    return distributions
for _md in (importlib.metadata, importlib_metadata):
    _md.distributions = _only_given(_md.distributions)
"""


def airflow_probe(code: str, tmp_path: Path, *, metadata: Path | None, plugins_folder: Path) -> dict:
    """Run ``code`` in a fresh interpreter: the package importable from the checkout, its installed
    metadata visible only when ``metadata`` is given."""
    path = [str(metadata)] if metadata else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"PYTHONPATH": os.pathsep.join([*path, str(ROOT / "plugins")]), "AIRFLOW_HOME": str(tmp_path / "home"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "no-dags"), "PROBE_METADATA": str(metadata or "")})
    out = subprocess.run([sys.executable, "-c", ONLY_GIVEN_METADATA + code], check=False, env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=180)
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


# ------------------------------------------------------------------ the Trident1 connection type (item 23)

PROVIDERS_PROBE = """
import json, os
from airflow.models.connection import Connection
from airflow.providers_manager import ProvidersManager

pm = ProvidersManager()
hook = pm.hooks.get("trident1")
out = {
    "provider": sorted(pm.providers) and pm.providers.get("trident1-aiq") is not None,
    "hook": hook and [hook.hook_class_name, hook.connection_type, hook.hook_name, hook.connection_id_attribute_name],
    "fields": sorted(v.field_name for k, v in pm.connection_form_widgets.items() if k.startswith("extra__trident1__")),
    "behaviour": pm.field_behaviours.get("trident1"),
}
for name in ("good", "refused"):
    conn = Connection.from_json(os.environ["PROBE_CONN_" + name.upper()], conn_id="trident1_probe_" + name)
    os.environ["AIRFLOW_CONN_TRIDENT1_PROBE_" + name.upper()] = conn.as_json()  # as the Test button's api-server does
    out[name] = conn.test_connection()
print(json.dumps(out))
"""


def sandbox_connection(server, key: str) -> str:
    return json.dumps({"conn_type": "trident1", "host": f"{server.host}:{server.port}", "schema": "http",
                       "password": key, "extra": {"store_name": "acme"}})


def test_provider_info_is_valid_for_airflow():
    import jsonschema
    from airflow import providers_manager

    from trident1_aiq.airflow.provider import PACKAGE, get_provider_info

    schema = json.loads((Path(providers_manager.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)  # an invalid one breaks every provider's discovery
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert get_provider_info()["package-name"] == PACKAGE == project["name"]
    assert project["entry-points"]["apache_airflow_provider"] == {
        "provider_info": "trident1_aiq.airflow.provider:get_provider_info"}


def test_installed_package_adds_the_trident1_connection_type_whose_test_calls_locations(installed, tmp_path):
    from trident1_sandbox import SandboxState, ServerThread

    from ..factories import API_KEYS, NOW

    with ServerThread(SandboxState(now=NOW)) as server:
        os.environ["PROBE_CONN_GOOD"] = sandbox_connection(server, API_KEYS["acme"])
        os.environ["PROBE_CONN_REFUSED"] = sandbox_connection(server, "KEY-wrong-DO-NOT-SHOW")
        try:
            found = airflow_probe(PROVIDERS_PROBE, tmp_path, metadata=installed, plugins_folder=tmp_path)
        finally:
            os.environ.pop("PROBE_CONN_GOOD")
            os.environ.pop("PROBE_CONN_REFUSED")
    assert found["provider"] is True
    assert found["hook"] == ["trident1_aiq.airflow.hook.Trident1Hook", "trident1", "Trident1 POS", "trident1_conn_id"]
    assert found["fields"] == ["store_name"]
    assert found["behaviour"]["relabeling"] == {"host": "Website", "password": "API key", "schema": "Scheme"}
    assert found["behaviour"]["hidden_fields"] == ["login"]
    ok, message = found["good"]
    assert ok is True and "location(s)" in message and "acme" in message, message
    ok, message = found["refused"]
    assert ok is False and "401" in message and "GET /locations" in message, message
    assert "KEY-wrong" not in message


def test_the_dag_reads_a_trident1_connection_and_an_http_one_with_a_json_extra_alike():
    from airflow.models.connection import Connection

    from trident1_aiq.airflow.adapter import read_credential

    fields = {"host": "https://acme.trident1pos.com/", "password": "KEY-1", "extra": '{"store_name": "Acme"}'}
    typed = {kind: Connection(conn_id="trident1_acme", conn_type=kind, **fields) for kind in ("trident1", "http")}
    read = {kind: read_credential("trident1_acme", lambda _id, c=conn: c) for kind, conn in typed.items()}
    assert read["trident1"] == read["http"]
    assert (read["trident1"].base_url, read["trident1"].store_name) == ("https://acme.trident1pos.com/api/v1", "Acme")
