"""``python -m trident1_sandbox``: serve the sandbox until interrupted."""

from __future__ import annotations

import argparse
import os
from datetime import datetime

import uvicorn

from .app import SandboxState, create_app
from .data import Volume, chain_store, fleet_stores


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m trident1_sandbox", description=__doc__)
    p.add_argument("--host", default=os.environ.get("SANDBOX_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8808")))
    p.add_argument("--sales-per-day", type=int, default=int(os.environ.get("SANDBOX_SALES_PER_DAY", "40")),
                   help="sales per location and day")
    p.add_argument("--malformed-rate", type=float, default=float(os.environ.get("SANDBOX_MALFORMED_RATE", "0.02")))
    p.add_argument("--now", default=os.environ.get("SANDBOX_NOW"), help="pin the clock (RFC 3339)")
    p.add_argument("--chain-locations", type=int, default=0,
                   help="add store account 'chain' (key sandbox-chain-key) with this many locations")
    p.add_argument("--accounts", type=int, default=0,
                   help="add this many franchisee accounts f0001… (key sandbox-fNNNN-key), one location each")
    p.add_argument("--account-sales", default=None, metavar="MIN:MAX",
                   help="with --accounts: each account's sales per day, log-uniform in MIN..MAX")
    p.add_argument("--first-day", help="ring sales only from this day (ISO date)")
    p.add_argument("--last-day", help="ring sales only up to this day (ISO date)")
    args = p.parse_args(argv)
    state = SandboxState(volume=Volume(sales_per_day=args.sales_per_day, malformed_rate=args.malformed_rate,
                                       first_day=args.first_day, last_day=args.last_day))
    if args.chain_locations:
        state.stores["chain"] = chain_store(args.chain_locations)
    if args.accounts:
        lo, hi = (int(x) for x in args.account_sales.split(":")) if args.account_sales else (None, None)
        state.stores.update(fleet_stores(args.accounts, min_sales=lo, max_sales=hi))
    if args.now:
        state.now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
