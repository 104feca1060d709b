"""The reference a user would otherwise write: requests → pandas → ``DataFrame.to_sql``.

No validation, no dedupe, no personas, no loyalty: read every page of the
window's sales, flatten the lines with pandas and append both tables with the
default ``to_sql`` method. ``bench.py`` times it on the same rows as the pipeline.

    python benchmarks/naive_script.py <sandbox url> <store> <api key> <since> <before> <database url>
"""

from __future__ import annotations

import json
import sys
import time


def main(base: str, store: str, key: str, since: str, before: str, db_url: str) -> dict:
    t0 = time.perf_counter()
    import pandas as pd
    import requests
    from sqlalchemy import create_engine

    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {key}", "X-Trident1-Store": store})
    records, cursor = [], None
    while True:
        params = {"updated_since": since, "updated_before": before, "limit": 500}
        if cursor:
            params["cursor"] = cursor
        body = session.get(f"{base}/api/v1/sales", params=params, timeout=60).json()
        records.extend(body["data"])
        cursor = body.get("next_cursor")
        if not cursor:
            break
    sales = pd.json_normalize(records, max_level=0).drop(columns=["items", "discounts", "payments", "customer"])
    lines = pd.json_normalize(records, record_path="items", meta=["id"], meta_prefix="sale_")
    engine = create_engine(db_url)
    sales.to_sql("naive_sales", engine, if_exists="replace", index=False)
    lines.to_sql("naive_sale_lines", engine, if_exists="replace", index=False)
    engine.dispose()
    return {"seconds": round(time.perf_counter() - t0, 3), "sales": len(sales), "lines": len(lines)}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:7])))
