"""Helpers the tests share: constants, records, credentials, PostgreSQL databases, warehouse snapshots.

Test modules import these from here (``from ..factories import ...``), never from one another
or from ``conftest.py``; the fixtures built on them live in ``conftest.py``.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from trident1_aiq.settings.config import Trident1Credential, trident1_credential

ROOT = Path(__file__).resolve().parents[1]
#: The sandbox clock in tests: early on 2026-11-26 UTC, so business day 2026-11-25 is complete.
NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
DAY = date(2026, 11, 25)
PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
API_KEYS = {"acme": "sandbox-acme-key", "bolt": "sandbox-bolt-key"}


# ------------------------------------------------------------------ Trident1 records and credentials


def sale(**over: Any) -> dict[str, Any]:
    """A well-formed Trident1 sale (the contract's example), with ``over`` replacing fields."""
    base = {
        "id": "S-1", "location_id": "LOC-1", "receipt_number": "1", "status": "completed",
        "created_at": "2026-11-25T22:30:00-07:00", "updated_at": "2026-11-26T05:30:00Z",
        "customer": {"id": "C-9", "first_name": " Ana ", "last_name": "Núñez", "phone": "(303) 555-0101",
                     "email": " Ana.Nunez@Example.com "},
        "items": [{"line_id": 1, "sku": "K", "name": "Knife", "category": "Knives", "quantity": "1.000",
                   "unit_price": "35.00", "discount": "3.50", "tax": "5.20", "total": "36.70"}],
        "discounts": [{"discount_id": "D-10", "code": "T", "name": "10%", "amount": "3.50", "in_store_only": False}],
        "payments": [{"method": "cash", "amount": "36.70"}],
        "subtotal": "35.00", "discount_total": "3.50", "tax_total": "5.20", "total": "36.70", "currency": "USD",
    }
    base.update(over)
    return base


def credential_for(server: Any, name: str, key: str | None = None) -> Trident1Credential:
    """The credential ``trident1_<name>`` pointing at a running sandbox (``ServerThread``)."""
    return trident1_credential(f"trident1_{name}", host=f"{server.host}:{server.port}", schema="http", port=None,
                               password=key or API_KEYS[name], extra={"store_name": name})


# ------------------------------------------------------------------ PostgreSQL


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


def dag_warehouse(db: str, sqlite_path: Path) -> tuple[dict[str, str], str, str | None]:
    """A fresh warehouse for a ``dag.test`` run: the Connection environment to set (none for SQLite,
    whose Connection the demo's ``connection_env`` already points at ``sqlite_path``), its URL, and
    the PostgreSQL database to drop afterwards (None for SQLite)."""
    from trident1_aiq.warehouse import sqlite_url

    if db != "postgres":
        return {}, sqlite_url(sqlite_path), None
    require_postgres()
    name, url = make_pg_database()
    env = {"AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps(
        {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": name})}
    return env, url, name


def make_pg_database() -> tuple[str, str]:
    import psycopg

    name = f"t1_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        # A test's database is thrown away: a commit need not wait for the WAL's flush to disk (only a
        # crash of the server itself could lose one; the crash tests kill the client). Most of the
        # PostgreSQL tests' time was that wait.
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------ warehouse snapshots

#: Columns that record *when* this project wrote a row: they differ between runs by design.
VOLATILE = {"loaded_at", "run_id", "first_run_id", "last_seen_at", "updated_at", "created_at", "first_seen_at",
            "quarantine_id", "quarantined_at", "released_at", "released_by_run"}
SNAPSHOT_TABLES = ("sales", "sale_items", "sale_discounts", "refunds", "personas", "persona_sources",
                   "quarantine", "trident1_locations", "store_mappings", "loyalty_ledger")


def snapshot(wh) -> dict[str, list[tuple]]:
    """The loaded tables' rows, without the columns that record when this project wrote them."""
    out = {}
    with wh.begin() as conn:
        for table in SNAPSHOT_TABLES:
            rows = [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table}"))]
            if table == "sales":  # updated_at here is Trident1's, part of the data
                keep = [{k: v for k, v in r.items() if k not in VOLATILE - {"updated_at"}} for r in rows]
            else:
                keep = [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]
            out[table] = sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in keep)
    return out


def identity_snapshot(wh) -> dict[str, list[tuple]]:
    """Like snapshot(), with each persona named by the Trident1 customers it groups (or, for one
    known by no customer id, its phone and e-mail) instead of its surrogate id and first-seen
    contact details, which depend on the order records arrived in."""
    snap = snapshot(wh)
    with wh.begin() as conn:
        groups: dict[str, list[str]] = {}
        for r in conn.execute(text("SELECT persona_id, credential, customer_id FROM persona_sources")):
            groups.setdefault(r.persona_id, []).append(f"{r.credential}/{r.customer_id}")
        who = {r.persona_id: ",".join(sorted(groups.get(r.persona_id, []))) or f"{r.phone}|{r.email}"
               for r in conn.execute(text("SELECT persona_id, phone, email FROM personas"))}
    for table in ("sales", "persona_sources", "personas", "loyalty_ledger"):
        rows = []
        for row in snap[table]:
            d = dict(row)
            if table == "personas":
                d = {"who": who.get(d.get("persona_id"))}
            elif d.get("persona_id") not in (None, "None"):
                d["persona_id"] = who.get(d["persona_id"])
            rows.append(tuple(sorted(d.items())))
        snap[table] = sorted(rows)
    return snap


def ingest(wh, server, settings, name="acme", run_id="run-1", day=DAY, now=NOW, chunk_size=None, page_limit=500):
    """One credential's ingest against a sandbox ``server``, as the DAG runs it."""
    from trident1_aiq.ingest.client import Trident1Client
    from trident1_aiq.ingest.pipeline import ingest_credential, run_window

    return ingest_credential(wh=wh, client=Trident1Client(credential_for(server, name), page_limit=page_limit),
                             settings=settings, credential=f"trident1_{name}", run_id=run_id,
                             window=run_window(day, settings.integration.lookback_hours, now), now=now,
                             chunk_size=chunk_size)



class _ReversedRow:
    """A result row whose columns come in reverse order by position, and as they are by name."""

    def __init__(self, mapping):
        self._mapping = dict(mapping)
        self._values = tuple(reversed(self._mapping.values()))

    def __getattr__(self, name):
        try:
            return self.__dict__["_mapping"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self):
        return iter(self._values)

    def __getitem__(self, i):
        return self._values[i]

    def __len__(self):
        return len(self._values)


class _ReversedResult:
    def __init__(self, result):
        self._rows = [_ReversedRow(r._mapping) for r in result]

    def __iter__(self):
        return iter(self._rows)

    def all(self):
        return list(self._rows)

    def mappings(self):
        return [r._mapping for r in self._rows]

    def first(self):
        return self._rows[0] if self._rows else None

    def scalar(self):
        return next(iter(self._rows[0]._mapping.values())) if self._rows else None


def columns_reversed(monkeypatch) -> None:
    """Every result ``Warehouse.run`` returns gives its columns in reverse order by position (by
    name as they are): code that reads a row by position reads the wrong column."""
    from trident1_aiq.warehouse import Warehouse

    run = Warehouse.run

    def reversed_run(self, conn, name, params=None):
        result = run(self, conn, name, params)
        return _ReversedResult(result) if result is not None and result.returns_rows else result

    monkeypatch.setattr(Warehouse, "run", reversed_run)

def scalar(wh, sql, **params):
    with wh.begin() as conn:
        return wh.execute(conn, sql, params).scalar()


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass


class LocalHttp:
    """A local HTTP server in a thread: ``handler`` (a BaseHTTPRequestHandler) answers; ``port``, ``close()``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.server = HTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class Webhook(LocalHttp):
    """A local HTTP receiver of alert webhooks: what it was sent, in order."""

    def __init__(self):
        self.received: list[tuple[dict, dict]] = []
        outer = self

        class Handler(_Quiet):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

        super().__init__(Handler)


class RefusesEveryKey(LocalHttp):
    """A Trident1 stand-in that answers 401 to every request (a wrong API key)."""

    def __init__(self):
        class Handler(_Quiet):
            def do_GET(self):  # noqa: N802 - http.server's name
                body = b'{"error": "invalid api key"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)
