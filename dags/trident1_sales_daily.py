"""trident1_sales_daily — Trident1 POS → AIQ warehouse, one run per business day.

Wiring only: every task body is one call into ``trident1_aiq.airflow.adapter``, given
its run's facts (``run_facts()``: run id, business date, the run's instant, the clock).
Nothing here reads a Variable or Connection, or opens a network or database
connection, at parse time.

Timetable: ``CronDataIntervalTimetable("0 0 * * *", UTC)``. The run for day D has
the data interval [D 00:00Z, D+1 00:00Z) and starts once it has ended; the
business day is the interval's start (or the ``business_date`` param of a
manual run). See docs/architecture.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import CronDataIntervalTimetable, Param, TriggerRule, dag, get_current_context, task

from trident1_aiq.airflow.assets import outlets
from trident1_aiq.airflow.notifier import FailureNotifier
from trident1_aiq.airflow.pools import scheduling

DOC = __doc__
FAIR = scheduling()  # pools and shard concurrency from Airflow's [trident1] configuration


@dag(
    dag_id="trident1_sales_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # SQLite is the embedded warehouse: one writer at a time
    dagrun_timeout=timedelta(hours=20),  # rule 11: done well inside 24 h of the day, or loudly failed
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2), "retry_exponential_backoff": True},
    params={
        "business_date": Param(
            None, type=["null", "string"], format="date",
            description="Business day to process (YYYY-MM-DD); empty: the run's data interval",
        )
    },
    on_failure_callback=FailureNotifier(),  # off unless trident1_integration.alerts.enabled
    tags=["trident1", "aiq"],
    doc_md=DOC,
)
def trident1_sales_daily():
    @task(retries=0, pool=FAIR.api_pool)
    def check_config() -> list[list[str]]:
        """Validate all Variables and Connections; migrate; mirror stores and mappings; plan the shards."""
        from trident1_aiq.airflow import adapter

        return adapter.check_config(adapter.run_facts())

    # One mapped task per shard of credentials (at most max_shards), a few at once per run
    # (docs/operations.md#parallelism-shards-and-pools). Outlets: the warehouse tables each task
    # updates (trident1_aiq/airflow/assets.py, docs/warehouse.md); adapter.announce gives their
    # events the business day and the task's counts.
    # multiple_outputs=False: a task returning a dict pushes it as one XCom, not one more per key
    # (Airflow infers multiple_outputs from the `-> dict` annotation: 20 XCom writes a shard).
    @task(map_index_template="{{ shard }}", max_active_tis_per_dagrun=FAIR.max_active_shards, pool=FAIR.api_pool,
          outlets=outlets("ingest"), multiple_outputs=False)
    def ingest(credentials: list[str]) -> dict:
        """Extract, validate (Great Expectations) and load a shard's Trident1 credentials, one by one."""
        from trident1_aiq.airflow import adapter
        from trident1_aiq.shards import shard_label

        get_current_context()["shard"] = shard_label(credentials)  # names the mapped task instance in the UI
        facts = adapter.run_facts()
        return adapter.announce("ingest", facts, adapter.ingest_shard(credentials, facts), credentials=credentials)

    @task(trigger_rule=TriggerRule.ALL_DONE, pool=FAIR.warehouse_pool, outlets=outlets("loyalty"),
          multiple_outputs=False)
    def loyalty() -> dict:
        """Enrol, earn, log redemptions, reconcile refunds (skipped on invalid configuration)."""
        from trident1_aiq.airflow import adapter

        facts = adapter.run_facts(after_check=True)
        return adapter.announce("loyalty", facts, adapter.loyalty(facts))

    @task(trigger_rule=TriggerRule.ALL_DONE, pool=FAIR.warehouse_pool, outlets=outlets("opt_in"),
          multiple_outputs=False)
    def opt_in() -> dict:
        """Ingest SMS replies, expire, create and send double opt-in requests (quiet hours respected)."""
        from trident1_aiq.airflow import adapter

        facts = adapter.run_facts(after_check=True)
        return adapter.announce("opt_in", facts, adapter.opt_in(facts))

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0, multiple_outputs=False)
    def run_report() -> dict:
        """Summarise the run from etl_runs (runs even when an ingest failed)."""
        from trident1_aiq.airflow import adapter

        return adapter.run_report(adapter.run_facts())

    ingest.expand(credentials=check_config()) >> loyalty() >> opt_in() >> run_report()


DAG = trident1_sales_daily()
