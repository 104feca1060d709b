"""Fair share for the DAG's tasks: Airflow pools and per-run concurrency (issue 18).

Two pools: ``trident1_api`` for the tasks that call the Trident1 API (``check_config``, the
ingest shards: its rate limits are per brand, not per worker) and ``trident1_warehouse`` for
the run-wide warehouse writers (``loyalty``, ``opt_in``). Their names and the number of ingest
shards a run may have running at once come from Airflow's configuration, section
``[trident1]`` (``AIRFLOW__TRIDENT1__API_POOL``, ``…__WAREHOUSE_POOL``,
``…__MAX_ACTIVE_SHARDS``), read when the DAG is parsed: no Variable, no database.

A pool a task names must exist, or the scheduler never queues the task: ``ensure_pools`` creates
the two (``make airflow`` and the tests call it; a deployment runs ``airflow pools set``, see
docs/operations.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scheduling:
    api_pool: str
    warehouse_pool: str
    max_active_shards: int


#: The defaults: pool names, their slots, and the ingest shards running at once per run.
API_POOL, WAREHOUSE_POOL = "trident1_api", "trident1_warehouse"
POOL_SLOTS = {API_POOL: 8, WAREHOUSE_POOL: 2}
MAX_ACTIVE_SHARDS = 8


def scheduling() -> Scheduling:
    """The pools and shard concurrency of ``[trident1]`` in Airflow's configuration, or the defaults."""
    from airflow.sdk import conf

    return Scheduling(
        api_pool=conf.get("trident1", "api_pool", fallback=API_POOL),
        warehouse_pool=conf.get("trident1", "warehouse_pool", fallback=WAREHOUSE_POOL),
        max_active_shards=conf.getint("trident1", "max_active_shards", fallback=MAX_ACTIVE_SHARDS),
    )


def ensure_pools(slots: dict[str, int] | None = None) -> list[str]:
    """Create the two pools where they do not exist yet (an admin's sizes are kept); their names."""
    from airflow.models.pool import Pool

    s = scheduling()
    wanted = {s.api_pool: POOL_SLOTS[API_POOL], s.warehouse_pool: POOL_SLOTS[WAREHOUSE_POOL], **(slots or {})}
    created = []
    for name, n in wanted.items():
        if Pool.get_pool(name) is None:
            Pool.create_or_update_pool(name, n, "trident1_sales_daily (docs/operations.md)", include_deferred=False)
            created.append(name)
    return created
