"""The floor arm of ``make bench``: the least work that moves the bench day into PostgreSQL.

    python benchmarks/floor_arm.py --base-url http://HOST:PORT/api/v1 --dsn postgresql://…/DB \
        --since 2026-11-23T00:00:00Z --before 2026-11-26T00:00:00Z [--store chain]

Reads ``/customers``, ``/sales`` and ``/refunds`` of the window (cursor pages of 500, one keep-alive
``requests`` session), decodes each page once with msgspec into Structs, keeps the newest version
per id, and COPYs sales, their lines, customers and refunds into plain text columns (as dlt keeps
money: the sandbox serves malformed money such as "84,OO" that a typed column would refuse). No
validation, no personas, no merge, no loyalty: a lower bound for any tool that reads this API and
loads these rows on this machine, the sandbox's serving time included. Every arm pays that time,
so ``bench.py`` reports the pipeline ÷ this floor, run interleaved in the same rounds.

The API key comes from ``BENCH_API_KEY`` (never the command line). Prints one JSON line like
``dlt_arm.py``: ``total_s``, ``steps``, ``rows``, ``peak_rss_mb``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import requests


class Sale(msgspec.Struct):
    id: Any = None
    location_id: Any = None
    created_at: Any = None
    updated_at: Any = None
    status: Any = None
    subtotal: Any = None
    total: Any = None
    customer: Any = None
    items: Any = []


class Customer(msgspec.Struct):
    id: Any = None
    phone: Any = None
    email: Any = None
    updated_at: Any = None


class Refund(msgspec.Struct):
    id: Any = None
    sale_id: Any = None
    amount: Any = None
    created_at: Any = None


DDL = """
CREATE TABLE sales (id text PRIMARY KEY, location_id text, sold_at text, updated_at text,
                    status text, subtotal text, total text, customer_id text);
CREATE TABLE sale_items (sale_id text, line_id text, sku text, quantity text, unit_price text, total text);
CREATE TABLE customers (id text PRIMARY KEY, phone text, email text, updated_at text);
CREATE TABLE refunds (id text PRIMARY KEY, sale_id text, amount text, created_at text);
"""
TABLES = ("sales", "sale_items", "customers", "refunds")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def read_all(session: requests.Session, base: str, path: str, params: dict[str, Any], struct: type) -> dict:
    """Every record of a listing, the newest version per id (``updated_at`` as text: the API's own order)."""
    page_type = msgspec.defstruct("Page", [("data", list[struct]), ("next_cursor", str | None, None)])
    decoder = msgspec.json.Decoder(page_type)
    out: dict[Any, Any] = {}
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = session.get(f"{base}/{path}", params=query, timeout=60)
        response.raise_for_status()
        page = decoder.decode(response.content)
        for rec in page.data:
            if rec.id is None:
                continue
            old = out.get(rec.id)
            if old is None or (getattr(rec, "updated_at", "") or "") >= (getattr(old, "updated_at", "") or ""):
                out[rec.id] = rec
        cursor = page.next_cursor
        if not cursor:
            return out


def text(value: Any) -> str | None:
    return None if value is None else str(value)


def load(dsn: str, customers: dict, sales: dict, refunds: dict) -> dict[str, int]:
    """COPY the four tables in one transaction; their row counts."""
    with psycopg.connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
        cur.execute(DDL)
        with cur.copy("COPY sales FROM STDIN") as cp:
            for x in sales.values():
                cid = x.customer.get("id") if isinstance(x.customer, dict) else None
                cp.write_row(tuple(map(text, (x.id, x.location_id, x.created_at, x.updated_at, x.status,
                                              x.subtotal, x.total, cid))))
        with cur.copy("COPY sale_items FROM STDIN") as cp:
            for x in sales.values():
                for i in x.items or ():
                    if isinstance(i, dict):
                        cp.write_row(tuple(map(text, (x.id, i.get("line_id"), i.get("sku"), i.get("quantity"),
                                                      i.get("unit_price"), i.get("total")))))
        with cur.copy("COPY customers FROM STDIN") as cp:
            for x in customers.values():
                cp.write_row(tuple(map(text, (x.id, x.phone, x.email, x.updated_at))))
        with cur.copy("COPY refunds FROM STDIN") as cp:
            for x in refunds.values():
                cp.write_row(tuple(map(text, (x.id, x.sale_id, x.amount, x.created_at))))
        conn.commit()
        rows = {}
        for table in TABLES:
            cur.execute(f"SELECT count(*) FROM {table}")
            rows[table] = cur.fetchone()[0]
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True, help="the API's base, e.g. http://127.0.0.1:8080/api/v1")
    p.add_argument("--dsn", required=True, help="a PostgreSQL database to create the four tables in")
    p.add_argument("--since", required=True, help="window start (RFC 3339, inclusive)")
    p.add_argument("--before", required=True, help="window end (RFC 3339, exclusive)")
    p.add_argument("--store", default="chain", help="the X-Trident1-Store header (default chain)")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {os.environ['BENCH_API_KEY']}", "X-Trident1-Store": a.store})
    params = {"updated_since": a.since, "updated_before": a.before, "limit": 500}
    steps = {}
    t = time.perf_counter()
    customers = read_all(session, a.base_url, "customers", params, Customer)
    sales = read_all(session, a.base_url, "sales", params, Sale)
    refunds = read_all(session, a.base_url, "refunds", params, Refund)
    steps["extract"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    rows = load(a.dsn, customers, sales, refunds)
    steps["load"] = round(time.perf_counter() - t, 3)
    print(json.dumps({"tool": "floor", "total_s": round(time.perf_counter() - t0, 3), "steps": steps, "rows": rows,
                      "lines": rows["sale_items"], "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
