"""A whole day's run in a separate process, for the SIGKILL tests: ingest both credentials,
loyalty, opt-in. Usage: crash_runner.py SANDBOX_PORT WAREHOUSE_URL RUN_ID (crash point from env)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))

from trident1_aiq.client import Trident1Client  # noqa: E402
from trident1_aiq.config import demo_settings, gateway_credential, trident1_credential  # noqa: E402
from trident1_aiq.loyalty import run_loyalty  # noqa: E402
from trident1_aiq.optin import run_opt_in  # noqa: E402
from trident1_aiq.pipeline import ingest_credential, prepare_run, run_window  # noqa: E402
from trident1_aiq.sms import GatewayClient  # noqa: E402
from trident1_aiq.warehouse import Warehouse  # noqa: E402

NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # 10:00 in Denver: inside send hours everywhere
DAY = date(2026, 11, 25)


def main(port: str, url: str, run_id: str) -> None:
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
    run_opt_in(wh, gateway, settings, run_id, NOW, clock=lambda: NOW)
    wh.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:4])
