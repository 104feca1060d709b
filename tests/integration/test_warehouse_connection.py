"""``warehouse_default`` is read the Postgres provider's way: its extras reach the driver (issue 12)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from trident1_aiq.airflow.adapter import warehouse_url_from
from trident1_aiq.warehouse import Warehouse

from ..conftest import require_postgres

pytestmark = pytest.mark.integration


def connection(**extra):
    from airflow.sdk import Connection

    return Connection(conn_id="warehouse_default", conn_type="postgres", host="127.0.0.1", port=5432,
                      login="postgres", password="s3cret", schema="postgres", extra=json.dumps(extra))


def test_the_url_carries_the_connection_and_its_extras(tmp_path):
    url = make_url(warehouse_url_from(connection(sslmode="require", connect_timeout=7,
                                                 sqlalchemy_query={"application_name": "t1"}), tmp_path / "x.db"))
    assert (url.drivername, url.host, url.port, url.username, url.password, url.database) == \
        ("postgresql+psycopg", "127.0.0.1", 5432, "postgres", "s3cret", "postgres")
    assert dict(url.query) == {"sslmode": "require", "connect_timeout": "7", "application_name": "t1"}
    # an explicit sqlalchemy_query wins over a plain extra of the same name
    url = make_url(warehouse_url_from(connection(sslmode="require", sqlalchemy_query={"sslmode": "disable"}),
                                      tmp_path / "x.db"))
    assert url.query["sslmode"] == "disable"


def test_no_connection_is_the_embedded_sqlite(tmp_path):
    assert warehouse_url_from(None, tmp_path / "w.db") == f"sqlite:///{tmp_path / 'w.db'}"


@pytest.mark.postgres
def test_sslmode_reaches_the_server(tmp_path):
    """The test server has SSL off: ``sslmode=require`` must make the connection fail, and
    ``sslmode=disable`` succeed — so the extra really reached psycopg."""
    require_postgres()
    plain = Warehouse(warehouse_url_from(connection(sslmode="disable"), tmp_path / "x.db"))
    with plain.engine.connect() as conn:
        ssl = conn.execute(text("SHOW ssl")).scalar()
    plain.dispose()
    if ssl != "off":
        pytest.skip("the PostgreSQL server has SSL on: sslmode=require would succeed")
    strict = Warehouse(warehouse_url_from(connection(sslmode="require"), tmp_path / "x.db"))
    with pytest.raises(OperationalError, match="SSL"), strict.engine.connect():
        pass
    strict.dispose()
    assert "s3cret" not in strict.safe_url


def test_secrets_in_the_query_are_masked_in_logs(tmp_path):
    wh = Warehouse(warehouse_url_from(connection(sslpassword="k3y-pass"), tmp_path / "x.db"))
    assert "k3y-pass" not in wh.safe_url and "k3y-pass" not in repr(wh) and "sslpassword=hidden" in wh.safe_url
    wh.dispose()
