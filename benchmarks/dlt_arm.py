"""The dlt reference arm of ``make bench``: the same served day → PostgreSQL with dlt's REST API source.

What a data engineer would otherwise write, in dlt's fastest merge configuration
(measured in issue 14): dlt's REST API source (``rest_api_source``) reading the
three endpoints the pipeline reads (``/customers``, ``/sales``, ``/refunds``) with the
run window's parameters, bearer auth plus the ``X-Trident1-Store`` header, dlt's cursor
paginator (``next_cursor`` in the body → ``cursor`` parameter), records under ``data``,
``merge`` on primary key ``id``, loader file format ``csv`` (PostgreSQL ``COPY``) and no
gzip of dlt's intermediate files (``DATA_WRITER__DISABLE_COMPRESSION=true``, dlt's
documented performance setting). Records without an ``id`` (the sandbox serves a few,
"missing_id") are dropped by a filter step: without it dlt's normalize fails the load.

dlt is a benchmark-only dependency: ``bench.py`` runs this file with the interpreter of
its own virtualenv (``.venv-dlt``, from ``benchmarks/requirements-dlt.txt``). It does not
import the project.

    .venv-dlt/bin/python benchmarks/dlt_arm.py --base-url http://HOST:PORT/api/v1 \\
        --dsn postgresql://postgres:PASSWORD@127.0.0.1:5432/DB \\
        --since 2026-11-23T00:00:00Z --before 2026-11-26T00:00:00Z --work DIR

(dlt's postgres credentials insist on a password; with trust auth any will do.)

Prints one JSON line: ``total_s`` (from ``dlt.pipeline()`` to ``load()`` returning, the
``import dlt`` left out as the worker leaves out the project's imports), the seconds of
dlt's own ``extract`` / ``normalize`` / ``load`` steps, rows per destination table
(``lines`` = ``sales__items``), peak RSS (``VmHWM``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

ENDPOINTS = ("customers", "sales", "refunds")  # the pipeline's order
PAGE_LIMIT = 500  # the project's client asks for the same page size
SETTINGS = {  # environment dlt reads its configuration from
    "DATA_WRITER__DISABLE_COMPRESSION": "true",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "RUNTIME__LOG_LEVEL": "WARNING",
}
LOADER_FILE_FORMAT = "csv"
WRITE_DISPOSITION = "merge"


def has_id(record: dict[str, Any]) -> bool:
    return record.get("id") is not None


def rest_api_config(base_url: str, store: str, key: str, since: str, before: str) -> dict[str, Any]:
    """The ``rest_api_source`` configuration (plain data; building it needs no dlt)."""
    window = {"updated_since": since, "updated_before": before, "limit": PAGE_LIMIT}
    return {
        "client": {
            "base_url": base_url,
            "auth": {"type": "bearer", "token": key},
            "headers": {"X-Trident1-Store": store},
            "paginator": {"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": WRITE_DISPOSITION,
            "endpoint": {"data_selector": "data"},
        },
        "resources": [
            {"name": name, "endpoint": {"path": name, "params": dict(window)},
             "processing_steps": [{"filter": has_id}]}
            for name in ENDPOINTS
        ],
    }


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(a: argparse.Namespace) -> dict[str, Any]:
    os.environ.update(SETTINGS)
    t_import = time.perf_counter()
    import dlt
    from dlt.sources.rest_api import rest_api_source

    imports = time.perf_counter() - t_import
    t0 = time.perf_counter()
    pipeline = dlt.pipeline(pipeline_name="trident1_bench", pipelines_dir=a.work,
                            destination=dlt.destinations.postgres(credentials=a.dsn), dataset_name=a.dataset)
    steps = {"setup": round(time.perf_counter() - t0, 3)}
    t = time.perf_counter()
    pipeline.extract(rest_api_source(rest_api_config(a.base_url, a.store, a.key, a.since, a.before)),
                     loader_file_format=LOADER_FILE_FORMAT)
    steps["extract"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    pipeline.normalize()
    steps["normalize"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    info = pipeline.load()
    steps["load"] = round(time.perf_counter() - t, 3)
    total = time.perf_counter() - t0
    info.raise_on_failed_jobs()

    rows: dict[str, int] = {}
    with pipeline.sql_client() as c:
        for (table,) in c.execute_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", a.dataset):
            if not table.startswith("_dlt"):
                rows[table] = int(c.execute_sql(f'SELECT COUNT(*) FROM "{a.dataset}"."{table}"')[0][0])
    return {
        "tool": "dlt", "dlt": dlt.__version__, "write_disposition": WRITE_DISPOSITION,
        "loader_file_format": LOADER_FILE_FORMAT, "compression": False, "endpoints": list(ENDPOINTS),
        "total_s": round(total, 3), "imports_s": round(imports, 3), "steps": steps,
        "rows": rows, "sales": rows.get("sales", 0), "lines": rows.get("sales__items", 0),
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True, help="the API root, e.g. http://127.0.0.1:8808/api/v1")
    p.add_argument("--dsn", required=True, help="postgresql://USER:PASSWORD@HOST:PORT/DB (an empty database)")
    p.add_argument("--since", required=True, help="updated_since of the run window (UTC, ...Z)")
    p.add_argument("--before", required=True, help="updated_before of the run window (UTC, ...Z)")
    p.add_argument("--store", default="chain")
    p.add_argument("--key", default=os.environ.get("BENCH_API_KEY", "sandbox-chain-key"),
                   help="API key (default: $BENCH_API_KEY, else the sandbox's demo key)")
    p.add_argument("--work", required=True, help="dlt's pipelines_dir (scratch, fresh per run)")
    p.add_argument("--dataset", default="trident1")
    print(json.dumps(run(p.parse_args(argv))))


if __name__ == "__main__":
    main()
