"""``python -m trident1_aiq config check``: validate the configuration as the DAG will.

``--from-airflow`` reads what the deployment holds — the four Variables from Airflow's
metadata DB (and its secrets backends), every credential's Connection, and each
credential's Trident1 locations and discounts — and runs the checks of the DAG's
``check_config`` task on all of them (a run's ``check_config`` reads only the gateway's and the
mirrored credentials' Connections; each ingest shard reads its own). It fails loudly (exit 2) when the metadata DB cannot be read,
never falling back to anything. ``--dir DIR`` checks ``<variable>.json`` files offline
(the Variables only; a missing file is a missing Variable).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from trident1_aiq.settings.config import VARIABLES


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m trident1_aiq config check")
    p.add_argument("action", choices=["check"])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dir", type=Path, help="offline: a folder of <variable>.json files (e.g. config/)")
    src.add_argument("--from-airflow", action="store_true",
                     help="what the deployment holds: Variables and Connections from Airflow's metadata DB, "
                          "locations and discounts from Trident1")
    args = p.parse_args(argv)
    if args.from_airflow:
        from trident1_aiq.airflow.adapter import (
            MetadataUnavailable,
            _metadata_connection,
            check_configuration,
            read_variables_from_metadata,
        )

        try:
            variables = read_variables_from_metadata()
        except MetadataUnavailable as exc:
            print(f"error: {exc}")
            return 2
        report = check_configuration(variables, _metadata_connection)
        source = "Airflow (Variables, Connections) and Trident1 (locations, discounts)"
    else:
        from trident1_aiq.airflow.adapter import ConfigReport
        from trident1_aiq.settings.config import ConfigError, load_settings

        raw, unreadable = {}, []
        for name in VARIABLES:
            path = args.dir / f"{name}.json"
            try:  # bytes: the one parser decodes them and says "malformed" with the file's name
                raw[name] = path.read_bytes() if path.exists() else None
            except OSError as exc:
                unreadable.append(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})")
        try:
            report = ConfigReport(None, unreadable) if unreadable else ConfigReport(load_settings(raw))
        except ConfigError as exc:
            report = ConfigReport(None, list(exc.problems))  # each names its Variable, i.e. <name>.json
        source = f"{args.dir} (Variables only: Connections and Trident1 not checked offline)"
    for warning in report.warnings:
        print(warning)
    if report.problems or report.settings is None:
        print(f"{len(report.problems)} problem(s) in {source}:")
        for problem in report.problems:
            print(f"  - {problem}")
        return 1
    s = report.settings
    print(f"ok: {len(s.integration.credentials)} credential(s), {len(s.stores)} store(s), "
          f"{len(s.mappings)} mapping(s), {len(s.discounts)} discount(s) read from {source}")
    return 0
