"""A whole day's run in a separate process, for the SIGKILL tests: ingest both credentials,
loyalty, opt-in. Usage: crash_runner.py SANDBOX_PORT WAREHOUSE_URL RUN_ID [CRASH_POINT].

With a crash point the process SIGKILLs itself when the run reaches it — a worker dying
with no chance to clean up. The point is armed here, from the test side, by wrapping the
product function that runs there (:func:`arm`); the product's modules know nothing of it.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))

from trident1_aiq.ingest import pipeline  # noqa: E402
from trident1_aiq.ingest.client import Trident1Client  # noqa: E402
from trident1_aiq.ingest.pipeline import ingest_credential, prepare_run, run_window  # noqa: E402
from trident1_aiq.loyalty.points import Ledger, run_loyalty  # noqa: E402
from trident1_aiq.messaging.optin import run_opt_in  # noqa: E402
from trident1_aiq.messaging.sms import GatewayClient  # noqa: E402
from trident1_aiq.settings.config import demo_settings, gateway_credential, trident1_credential  # noqa: E402
from trident1_aiq.warehouse import Warehouse  # noqa: E402

NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # 10:00 in Denver: inside send hours everywhere
DAY = date(2026, 11, 25)

#: Where a worker may die: after the sales were extracted and loaded (before the refunds are
#: asked for); inside a chunk's transaction after staging, merge and quarantine, before the
#: commit; between two batches of ledger entries of loyalty's one transaction; after the SMS
#: gateway accepted a text, before the warehouse recorded it.
POINTS = ("extract.after_sales", "load.before_commit", "loyalty.between_entries", "optin.after_accept")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _after(owner: object, name: str, when=lambda *a, **k: True) -> None:
    """Replace ``owner.name`` by a wrapper that runs it, then dies if ``when(*args)`` held before."""
    real = getattr(owner, name)

    @functools.wraps(real)
    def wrapper(*args, **kwargs):
        fire = when(*args, **kwargs)
        result = real(*args, **kwargs)
        if fire:
            die()
        return result

    setattr(owner, name, wrapper)


def arm(point: str) -> None:
    if point == "extract.after_sales":
        real = Trident1Client.iter_window

        def iter_window(self, path, since, before):
            if path == "/refunds":  # every sales chunk is committed by now
                die()
            return real(self, path, since, before)

        Trident1Client.iter_window = iter_window
    elif point == "load.before_commit":
        _after(pipeline, "quarantine")  # the last write of a chunk's transaction
    elif point == "loyalty.between_entries":
        _after(Ledger, "flush", lambda ledger: bool(ledger.pending))
    elif point == "optin.after_accept":
        _after(GatewayClient, "send")
    else:
        raise SystemExit(f"unknown crash point {point!r}; one of {', '.join(POINTS)}")


def main(port: str, url: str, run_id: str, crash: str | None = None) -> None:
    if crash:
        arm(crash)
    settings = demo_settings({})
    wh = Warehouse(url)
    prepare_run(wh, settings, NOW)
    for name in ("acme", "bolt"):
        cred = trident1_credential(f"trident1_{name}", host=f"127.0.0.1:{port}", schema="http", port=None,
                                   password=f"sandbox-{name}-key", extra={"store_name": name})
        ingest_credential(wh=wh, client=Trident1Client(cred), settings=settings, credential=cred.conn_id,
                          run_id=run_id, window=run_window(DAY, 48, NOW), now=NOW)
    run_loyalty(wh, settings, run_id, NOW)
    gateway = GatewayClient(gateway_credential("aiq_sms_default", host=f"127.0.0.1:{port}", schema="http",
                                               port=None, password="sandbox-sms-token"))
    run_opt_in(wh, gateway, settings, run_id, clock=lambda: NOW)
    wh.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:5])
