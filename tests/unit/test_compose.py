"""docker-compose.yml: it parses, and its services and environment agree with the code."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from trident1_aiq.airflow.adapter import WAREHOUSE_CONN_ID
from trident1_aiq.settings.config import demo_settings

from ..factories import ROOT

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def env_of(compose, service):
    env = compose["services"][service].get("environment") or {}
    return env


def test_official_services_plus_sandbox_and_warehouse(compose):
    assert set(compose["services"]) >= {
        "postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
        "airflow-worker", "airflow-triggerer", "airflow-init", "sandbox", "warehouse-db"}


def test_celery_and_one_shared_jwt_secret(compose):
    secrets = set()
    for name, svc in compose["services"].items():
        if name.startswith("airflow-"):
            env = svc["environment"]
            assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
            assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
            secrets.add(env["AIRFLOW__API_AUTH__JWT_SECRET"])
            mounts = {v.split(":")[1] for v in svc["volumes"]}
            assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts
    assert len(secrets) == 1


def test_connection_ids_match_the_code(compose):
    env = env_of(compose, "airflow-worker")
    for cred in demo_settings({}).integration.credentials:
        raw = env[f"AIRFLOW_CONN_{cred.upper()}"]
        conn = json.loads(re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", raw))
        assert conn["host"] == "sandbox" and conn["extra"]["store_name"]
        assert str(conn["port"]) in compose["services"]["sandbox"]["ports"][0]
    wh = json.loads(env[f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"])
    assert wh["conn_type"] == "postgres" and wh["host"] == "warehouse-db"
    db = compose["services"]["warehouse-db"]["environment"]
    assert (wh["login"], wh["schema"]) == (db["POSTGRES_USER"], db["POSTGRES_DB"])
    assert "AIRFLOW_CONN_AIQ_SMS_DEFAULT" in env
