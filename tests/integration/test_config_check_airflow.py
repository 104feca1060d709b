"""`config check --from-airflow` reads what the deployment holds (rules 6, 7).

It must read Airflow's metadata DB (not the config/ defaults), every credential's
Connection and Trident1's locations, and fail loudly when it cannot read them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from trident1_aiq.__main__ import main
from trident1_aiq.dev.demo import connection_env
from trident1_aiq.settings.config import VARIABLES, default_variable_text

from ..factories import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.dag]


@pytest.fixture
def stored(airflow_db, sandbox, tmp_path, monkeypatch):
    """The demo Variables stored in the metadata DB (not in the environment), Connections to the sandbox."""
    from airflow.models import Variable  # noqa: AIR311 — stored in the metadata DB, as `airflow variables set` does

    for name in VARIABLES:
        monkeypatch.delenv(f"AIRFLOW_VAR_{name.upper()}", raising=False)
        Variable.set(name, default_variable_text(name))  # noqa: AIR311
    for key, value in connection_env(sandbox.url, tmp_path / "wh.db").items():
        monkeypatch.setenv(key, value)
    yield Variable  # noqa: AIR311
    for name in VARIABLES:
        Variable.delete(name)  # noqa: AIR311


def _maps():
    return json.loads(default_variable_text("trident1_store_mappings"))


def test_ok_only_after_reading_the_stored_variables_connections_and_locations(stored, capsys):
    assert main(["config", "check", "--from-airflow"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 2 credential(s), 4 store(s), 4 mapping(s)") and "Trident1 (locations" in out
    assert "warning" not in out


def test_a_bad_stored_variable_is_reported(stored, capsys):
    maps = _maps()
    maps[1]["store_id"] = "atlantis"
    stored.set("trident1_store_mappings", json.dumps(maps))
    assert main(["config", "check", "--from-airflow"]) == 1
    out = capsys.readouterr().out
    assert "trident1_store_mappings[1].store_id: retail store 'atlantis' does not exist" in out
    assert "ok" not in out.split()


def test_a_variable_not_stored_is_an_error_naming_it(stored, capsys):
    stored.delete("aiq_retail_stores")
    assert main(["config", "check", "--from-airflow"]) == 1
    assert "aiq_retail_stores: the Airflow Variable is not set" in capsys.readouterr().out


def test_rule6_a_mapping_to_a_location_trident1_does_not_report_is_a_warning(stored, capsys):
    maps = _maps()
    maps.append({"credential": "trident1_acme", "location_id": "LOC-04", "store_id": maps[0]["store_id"]})
    stored.set("trident1_store_mappings", json.dumps(maps))
    assert main(["config", "check", "--from-airflow"]) == 0
    out = capsys.readouterr().out
    assert "warning: trident1_store_mappings[4]: location 'LOC-04' is not among the locations trident1_acme " \
           "reports" in out


def test_a_missing_connection_is_a_problem(stored, monkeypatch, capsys):
    monkeypatch.delenv("AIRFLOW_CONN_TRIDENT1_BOLT")
    assert main(["config", "check", "--from-airflow"]) == 1
    assert "connection trident1_bolt: not defined" in capsys.readouterr().out


def test_fails_loudly_when_the_metadata_db_cannot_be_read(tmp_path):
    env = dict(os.environ, AIRFLOW_HOME=str(tmp_path),
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path}/never-migrated.db",
               PYTHONPATH=str(ROOT / "plugins"))
    done = subprocess.run([sys.executable, "-m", "trident1_aiq", "config", "check", "--from-airflow"], env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot read Airflow's metadata DB" in done.stdout and "ok" not in done.stdout.split()


def test_item9_after_eval_airflow_env_the_check_sees_the_connections_make_airflow_runs_with(airflow_db, tmp_path,
                                                                                           monkeypatch):
    """Issue 19 item 9: `eval "$(make -s airflow-env)"` then `config check --from-airflow` once said
    "connection trident1_acme: not defined"; the shell now holds the very Connections of the
    components `make airflow` starts (the same sandbox, the same warehouse), so check and runs agree."""
    from airflow.models import Variable  # noqa: AIR311 — stored in the metadata DB, as `airflow variables set` does

    from trident1_aiq.dev.local_airflow import airflow_env
    from trident1_sandbox import SandboxState, ServerThread

    from ..factories import NOW

    for name in VARIABLES:
        monkeypatch.delenv(f"AIRFLOW_VAR_{name.upper()}", raising=False)
        Variable.set(name, default_variable_text(name))  # noqa: AIR311
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    try:
        with ServerThread(SandboxState(now=NOW)) as sandbox:
            shell = (f'eval "$({sys.executable} -m trident1_aiq airflow --print-env --sandbox-port {sandbox.port} '
                     f'--warehouse {tmp_path / "wh.db"})" && env | grep ^AIRFLOW_CONN_ | sort && '
                     "python -m trident1_aiq config check --from-airflow")
            done = subprocess.run(["bash", "-c", shell], env=dict(base, PYTHONPATH=str(ROOT / "plugins")),
                                  capture_output=True, text=True, timeout=300, check=False)
            components = airflow_env(base, airflow_db, 8080, sandbox.url, tmp_path / "wh.db")
    finally:
        for name in VARIABLES:
            Variable.delete(name)  # noqa: AIR311
    assert done.returncode == 0, done.stdout + done.stderr
    exported = dict(line.split("=", 1) for line in done.stdout.splitlines() if line.startswith("AIRFLOW_CONN_"))
    assert exported == {k: v for k, v in components.items() if k.startswith("AIRFLOW_CONN_")}
    assert {"AIRFLOW_CONN_TRIDENT1_ACME", "AIRFLOW_CONN_TRIDENT1_BOLT", "AIRFLOW_CONN_AIQ_SMS_DEFAULT"} <= set(exported)
    assert "ok: 2 credential(s), 4 store(s), 4 mapping(s)" in done.stdout and "not defined" not in done.stdout
