"""Shards of credentials: one mapped ingest task per shard, not per credential (issue 18).

A franchise brand has hundreds or thousands of Trident1 accounts, each a credential. One
mapped task per credential would pay an Airflow task start, the imports (Great Expectations),
the settings, a warehouse connection and the migration check per account, and a list longer
than Airflow's ``[core] max_map_length`` (1024) fails the map. So ``check_config`` returns at
most ``max_shards`` shards; each shard task pays that fixed cost once and ingests its
credentials one after another, each with its own ``etl_runs`` row.

Shards are balanced by each credential's expected cost: its recent volume (records read by its
recent successful runs, from ``etl_runs``) plus a fixed cost per credential, longest first onto
the lightest shard; without history, by count. The fixed part keeps accounts of a few records
from piling into a few shards: each costs a Connection read (whose key Airflow's secrets masker
registers, at a cost that grows with the keys the process already holds), its catalogue and
its ``etl_runs`` row, whatever its volume. Plain functions: no Airflow here.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trident1_aiq.warehouse import Warehouse

#: The days of ``etl_runs`` that size the shards.
VOLUME_DAYS = 7

#: A credential's fixed cost in a shard, in records: ≈ 0.15–0.24 CPU-s an account against ≈ 1.5 CPU-ms
#: a sale (benchmarks/results/fleet.md), about 200 records' worth.
FIXED_RECORDS = 200.0


def plan_shards(credentials: Sequence[str], max_shards: int,
                volume: Mapping[str, float] | None = None) -> list[list[str]]:
    """``credentials`` in at most ``max_shards`` shards of about equal volume.

    ``volume`` is each credential's recent records per run; one without history counts as the
    median of those with (1 when none has any), so a fleet without history is split by count.
    Each credential weighs its volume plus :data:`FIXED_RECORDS`.
    Deterministic: the same inputs give the same shards; each shard lists its credentials in
    name order, and the shards come in the order of their first credential.
    """
    names = sorted(dict.fromkeys(credentials))
    if not names:
        return []
    volume = {c: float(v) for c, v in (volume or {}).items() if v and v > 0}
    known = [volume[c] for c in names if c in volume]
    default = median(known) if known else 1.0
    weight = {c: volume.get(c, default) + FIXED_RECORDS for c in names}
    n = max(1, min(max_shards, len(names)))
    heap = [(0.0, i) for i in range(n)]  # (volume so far, shard number): the lightest first
    shards: list[list[str]] = [[] for _ in range(n)]
    for c in sorted(names, key=lambda c: (-weight[c], c)):
        load, i = heapq.heappop(heap)
        shards[i].append(c)
        heapq.heappush(heap, (load + weight[c], i))
    return sorted((sorted(s) for s in shards if s), key=lambda s: s[0])


def shard_label(credentials: Sequence[str]) -> str:
    """What the Airflow UI shows for a shard's mapped task: its credentials, or their range."""
    names = [c.removeprefix("trident1_") for c in credentials]
    if len(names) <= 3:
        return ", ".join(names)
    return f"{names[0]} … {names[-1]} ({len(names)})"


def recent_volume(wh: Warehouse, now: datetime, days: int = VOLUME_DAYS) -> dict[str, float]:
    """Each credential's average records read per successful run over the last ``days``."""
    with wh.begin() as conn:
        rows = wh.query(conn, "runs/recent_volume", {"since": now - timedelta(days=days)})
    return {r["credential"]: float(r["records"] or 0) for r in rows}
