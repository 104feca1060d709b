"""``python -m trident1_aiq config check``: validate the Variables offline.

Reads each Variable from a JSON file in ``--dir`` (named ``<variable>.json``),
else from the Airflow metadata DB with ``--from-airflow``; prints every problem
with its location, exactly as the DAG's ``check_config`` task would.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .config import DEFAULT_CONFIG_DIR, VARIABLES, ConfigError, load_settings


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m trident1_aiq config check")
    p.add_argument("action", choices=["check"])
    p.add_argument("--dir", type=Path, default=DEFAULT_CONFIG_DIR, help="folder of <variable>.json files")
    p.add_argument("--from-airflow", action="store_true", help="read the Variables from Airflow")
    args = p.parse_args(argv)
    if args.from_airflow:
        from .airflow_adapter import read_variables

        raw = read_variables()
    else:
        raw = {n: (args.dir / f"{n}.json").read_text(encoding="utf-8") if (args.dir / f"{n}.json").exists() else None
               for n in VARIABLES}
    try:
        settings = load_settings(raw)
    except ConfigError as exc:
        print(f"{len(exc.problems)} problem(s):")
        for problem in exc.problems:
            print(f"  - {problem}")
        return 1
    print(f"ok: {len(settings.integration.credentials)} credential(s), {len(settings.stores)} store(s), "
          f"{len(settings.mappings)} mapping(s), {len(settings.discounts)} discount(s)")
    return 0
