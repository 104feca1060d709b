"""Command line: ``python -m trident1_aiq {demo,airflow,config,sandbox}``."""

from __future__ import annotations

import sys

SANDBOX_MISSING = ("{command}: needs the development tools (trident1_aiq.dev, trident1_sandbox), which are not part of the "
                   "installed product; run it from a source checkout with PYTHONPATH=plugins (make run, make sandbox)")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m trident1_aiq {demo|airflow|config check|sandbox} [options]")
        return 0
    command, rest = argv[0], argv[1:]
    try:
        if command == "demo":
            from trident1_aiq.dev.demo import main as demo

            return demo(rest)
        if command == "airflow":
            from trident1_aiq.dev.local_airflow import main as local_airflow

            return local_airflow(rest)
        if command == "sandbox":
            from trident1_sandbox.__main__ import main as sandbox  # dev/demo only: not in the wheel or image

            sandbox(rest)
            return 0
    except ModuleNotFoundError as exc:
        if exc.name not in ("trident1_sandbox", "trident1_aiq.dev"):  # the development tools are not installed
            raise
        print(SANDBOX_MISSING.format(command=command), file=sys.stderr)
        return 2
    if command == "config":
        from trident1_aiq.settings.cli import main as config

        return config(rest)
    print(f"unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
