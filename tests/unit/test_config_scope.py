"""Which Connections the run's ``check_config`` reads (issue 18): only those of credentials with
mirrored discounts (rule 20) and the gateway's; each other credential's is read by its ingest shard,
where a missing one fails that credential alone (tests/integration/test_fleet.py)."""

from __future__ import annotations

import pytest

from trident1_aiq.airflow.adapter import GATEWAY_CONN_ID, check_configuration
from trident1_aiq.dev.demo import fleet_variables

pytestmark = pytest.mark.unit

ACCOUNTS = ["acme", "bolt", "f0001", "f0002", "f0003"]


def looked_up(every_credential: bool) -> tuple[list[str], list[str]]:
    asked: list[str] = []

    def connection(conn_id: str):
        asked.append(conn_id)  # and returns None: not defined, a problem for each one read, and no HTTP

    variables = fleet_variables(ACCOUNTS, ["den-downtown", "nyc-soho"])
    report = check_configuration(variables, connection, unreadable_is_problem=False, every_credential=every_credential)
    assert report.settings is not None
    return asked, report.problems


def test_the_runs_check_reads_only_mirrored_credentials_and_the_gateway():
    asked, problems = looked_up(every_credential=False)
    assert sorted(set(asked)) == sorted({"trident1_acme", GATEWAY_CONN_ID}), asked  # config/: acme's mirrors
    assert [p for p in problems if "trident1_" in p] == [
        "connection trident1_acme: not defined (add it as an Airflow Connection) (read before the run: AIQ mirrors "
        "its discounts, rule 20)"]


def test_config_check_reads_every_credential():
    asked, problems = looked_up(every_credential=True)
    assert {f"trident1_{a}" for a in ACCOUNTS} <= set(asked)
    assert sum("not defined" in p for p in problems) >= len(ACCOUNTS)
