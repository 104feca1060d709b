"""Command line: ``python -m trident1_aiq {demo,airflow,config,sandbox}``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m trident1_aiq {demo|airflow|config check|sandbox} [options]")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "demo":
        from .demo import main as demo

        return demo(rest)
    if command == "airflow":
        from .local_airflow import main as local_airflow

        return local_airflow(rest)
    if command == "config":
        from .cli_config import main as config

        return config(rest)
    if command == "sandbox":
        from .sandbox.__main__ import main as sandbox

        sandbox(rest)
        return 0
    print(f"unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
