"""Crash points for the fault-injection tests (issue 7): ``TRIDENT1_CRASH_AT=<name>`` makes the
process SIGKILL itself when it reaches that point — a worker dying with no chance to clean up.
Unset (always, in production), a crash point is a dictionary lookup."""

from __future__ import annotations

import os
import signal

ENV = "TRIDENT1_CRASH_AT"
POINTS = ("extract.after_sales", "load.before_commit", "loyalty.between_entries", "optin.after_accept")


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
