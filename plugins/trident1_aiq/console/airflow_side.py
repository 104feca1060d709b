"""The console's reads and writes of Airflow's own state, in the api-server process.

Variables and Connections are read through Airflow's secrets backends (environment,
then metadata DB), as a task would see them. Writes go to the metadata DB in the
request's session together with an audit ``Log`` row carrying the user's name, the
way Airflow's own REST endpoints record a variable edit or a triggered run
(``airflow.api_fastapi.logging.decorators.action_logging``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

from trident1_aiq.settings.config import VARIABLES, UnreadableText
from trident1_aiq.warehouse import Warehouse

DAG_ID = "trident1_sales_daily"
SOURCE = "trident1 console"

_warehouses: dict[str, Warehouse] = {}
_lock = threading.Lock()


def read_texts() -> dict[str, str | None]:
    """The four Variables as the next run will read them (None: not set)."""
    from airflow.models.variable import Variable  # the api-server side: core model, not the task SDK

    texts: dict[str, str | None] = {}
    for name in VARIABLES:
        try:
            value = Variable.get(name, default_var=None)
        except Exception as exc:  # a value the metadata DB or the decryption cannot give back
            texts[name] = UnreadableText(type(exc).__name__)
            continue
        if isinstance(value, bytes):  # SQLite gives back what was stored, e.g. bytes that are not UTF-8
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                value = UnreadableText(f"not valid UTF-8 at byte {exc.start}")
        texts[name] = value
    return texts


def fingerprint(text: str | None) -> str:
    """What a page's form was built from: saving refuses when the Variable changed meanwhile."""
    if isinstance(text, UnreadableText):
        text = f"unreadable:{text.reason}"
    return hashlib.sha256((text or "").encode("utf-8", "surrogatepass")).hexdigest()[:20]


class ChangedMeanwhile(Exception):
    """A Variable a save started from changed (or vanished) before the save could lock it."""


def shadowing_backend(key: str) -> str | None:
    """The secrets backend (e.g. environment variables) that holds ``key`` ahead of the metadata DB:
    a value written to the DB would never be read, so the console refuses to save it."""
    from airflow.configuration import ensure_secrets_loaded
    from airflow.secrets.metastore import MetastoreBackend

    for backend in ensure_secrets_loaded():
        if isinstance(backend, MetastoreBackend):
            return None
        try:
            if backend.get_variable(key) is not None:
                return type(backend).__name__
        except Exception:  # a backend that cannot answer does not shadow anything we can see
            continue
    return None


class WarehouseNotReady(Exception):
    """The warehouse has not been migrated (fully) yet: the pages say so instead of migrating it."""


def warehouse() -> Warehouse:
    """The warehouse the DAG writes to: the ``warehouse_default`` Connection, else the embedded default.

    Never migrated here (a page view never writes): a warehouse whose schema is not complete raises
    :class:`WarehouseNotReady`, with what is missing; the DAG's ``check_config`` migrates it."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection  # core model (api-server)

    from trident1_aiq.airflow.adapter import WAREHOUSE_CONN_ID, default_warehouse_path, warehouse_url_from

    try:
        conn = Connection.get_connection_from_secrets(WAREHOUSE_CONN_ID)
    except AirflowNotFoundException:
        conn = None
    url = warehouse_url_from(conn, default_warehouse_path())
    with _lock:
        wh = _warehouses.get(url)
        if wh is None:
            wh = _warehouses[url] = Warehouse(url)
    pending = wh.pending_migrations()
    if pending:
        where = wh.url.render_as_string(hide_password=True)
        raise WarehouseNotReady(
            f"The warehouse {where} is not migrated yet ({len(pending)} migration(s) pending, from {pending[0]}): "
            f"the console only reads it. The DAG's first task, check_config, migrates it: trigger a run of "
            f"{DAG_ID} (its Trigger button in Airflow's UI, or `airflow dags trigger {DAG_ID}`).")
    return wh


def _audit(session, event: str, user_name: str, extra: dict[str, Any], dag_id: str | None = None,
           run_id: str | None = None) -> None:
    from airflow.models import Log

    session.add(Log(event=event, task_instance=None, owner=user_name, owner_display_name=user_name,
                    extra=json.dumps(dict(extra, source=SOURCE)), dag_id=dag_id, run_id=run_id))


def save_variables(session, changes: dict[str, tuple[str, str]], user_name: str) -> None:
    """Write Variables (key → (the fingerprint the page was built from, the new value)) and their audit
    rows in one transaction, only if none changed since: the rows are locked first (``SELECT … FOR
    UPDATE``; on SQLite, which has no row locks, a no-op write takes the database's write lock), the
    fingerprints re-checked under the lock, and :class:`ChangedMeanwhile` raised, nothing written,
    if one differs. Two concurrent saves are thus serialised and the second one refused. The values
    are not logged (Airflow masks Variable values in its audit log too)."""
    from airflow.models.variable import Variable  # the api-server side: core model, not the task SDK
    from sqlalchemy import select, update

    keys = sorted(changes)
    try:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(update(Variable).where(Variable.key.in_(keys)).values(key=Variable.key)
                            .execution_options(synchronize_session=False))
        rows = {v.key: v for v in session.scalars(
            select(Variable).where(Variable.key.in_(keys)).order_by(Variable.key).with_for_update()
            .execution_options(populate_existing=True)).all()}
        for key in keys:
            row = rows.get(key)
            if row is None or fingerprint(row.val) != changes[key][0]:
                raise ChangedMeanwhile(key)
        for key in keys:
            Variable.set(key, changes[key][1], description=rows[key].description, session=session)
            _audit(session, "patch_variable", user_name, {"key": key, "val": "***", "method": "POST"})
        session.commit()
    except BaseException:
        session.rollback()
        raise


def earliest_day(session) -> date | None:
    """The first business day a run can cover: the DAG's ``start_date`` (None: the DAG is not serialised)."""
    from airflow.api_fastapi.common.dagbag import create_dag_bag

    dag = create_dag_bag().get_latest_version_of_dag(DAG_ID, session=session)
    start = getattr(dag, "start_date", None) if dag is not None else None
    return start.astimezone(UTC).date() if start else None


def dag_state(session) -> dict[str, Any]:
    """Whether the DAG is known and paused, and its latest runs (newest first)."""
    from airflow.models import DagModel, DagRun
    from sqlalchemy import select

    dm = session.scalar(select(DagModel).where(DagModel.dag_id == DAG_ID).limit(1))
    runs = session.scalars(select(DagRun).where(DagRun.dag_id == DAG_ID)
                           .order_by(DagRun.run_after.desc()).limit(5)).all()
    return {
        "known": dm is not None,
        "paused": bool(dm.is_paused) if dm is not None else None,
        "runs": [{"run_id": r.run_id, "state": str(r.state), "run_after": r.run_after,
                  "start_date": r.start_date, "end_date": r.end_date,
                  "seconds": (r.end_date - r.start_date).total_seconds() if r.start_date and r.end_date else None,
                  "business_date": (r.conf or {}).get("business_date") or _interval_day(r)} for r in runs],
    }


def _interval_day(run) -> str | None:
    """A scheduled run's business day: the start of its data interval (as the DAG reads it)."""
    start = getattr(run, "data_interval_start", None)
    return start.astimezone(UTC).date().isoformat() if start else None


def trigger(session, day: date, user_name: str, unpause: bool) -> str:
    """A run for business day ``day``, as Airflow's own trigger endpoint creates one, that is the only
    run of that day: unpausing must not let the scheduler start a second one that takes the work.

    Unpaused, a ``catchup=False`` DAG gets a scheduled run of its latest complete interval at once (the
    scheduler's ``next_dagrun``, recomputed from the latest scheduled run at every parse). So:

    * when ``day`` is that pending interval's day, the admin's run *is* that scheduled run (its run id,
      interval and logical date, with the admin as the triggering user and ``business_date`` in its conf),
      and the DAG's next run moves on to the following interval: one run of the day;
    * otherwise a manual run, and the DAG is marked as at ``max_active_runs`` (as the scheduler and the
      dag-processor count a queued run), so a pending scheduled run of another day waits until this one
      has ended instead of starting first and taking its work (held records released, rule 6).
    """
    from airflow.api_fastapi.common.dagbag import create_dag_bag
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
    from airflow.models import DagModel, DagRun
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    dm = session.scalar(select(DagModel).where(DagModel.dag_id == DAG_ID).limit(1))
    if dm is None:
        raise LookupError(f"the DAG {DAG_ID} has not been parsed yet (is the dag-processor running?)")
    dag = create_dag_bag().get_latest_version_of_dag(DAG_ID, session=session)
    if dag is None:
        raise LookupError(f"the DAG {DAG_ID} has not been serialised yet")
    if unpause and dm.is_paused:
        dm.is_paused = False
        _audit(session, "patch_dag", user_name, {"is_paused": False, "method": "POST"}, dag_id=DAG_ID)
    note = f"triggered from the {SOURCE} by {user_name}"
    conf = {"business_date": day.isoformat()}
    common = {"conf": conf, "triggered_by": DagRunTriggeredByType.UI, "triggering_user_name": user_name,
              "state": DagRunState.QUEUED, "note": note, "session": session}
    pending = pending_scheduled_day(dm, datetime.now(UTC))
    if pending == day:
        run = dag.create_dagrun(
            run_id=DagRun.generate_run_id(run_type=DagRunType.SCHEDULED, logical_date=dm.next_dagrun,
                                          run_after=dm.next_dagrun_create_after),
            logical_date=dm.next_dagrun, data_interval=dm.next_dagrun_data_interval,
            run_after=dm.next_dagrun_create_after, run_type=DagRunType.SCHEDULED, **common)
        dm.calculate_dagrun_date_fields(dag, reference_run=run)
    else:
        body = TriggerDAGRunPostBody(logical_date=None, conf=conf, note=note)
        params = body.validate_context(dag)
        run = dag.create_dagrun(
            run_id=params["run_id"], logical_date=params["logical_date"], data_interval=params["data_interval"],
            run_after=params["run_after"], run_type=DagRunType.MANUAL, partition_key=params["partition_key"],
            partition_date=params["partition_date"], **common)
        active = DagRun.active_runs_of_dags(dag_ids=[DAG_ID], exclude_backfill=True, session=session)
        dm.exceeds_max_non_backfill = active.get(DAG_ID, 0) >= (dm.max_active_runs or 0)
    _audit(session, "trigger_dag_run", user_name, {"business_date": day.isoformat(), "method": "POST"},
           dag_id=DAG_ID, run_id=run.run_id)
    session.commit()
    return run.run_id


def pending_scheduled_day(dm, now: datetime) -> date | None:
    """The business day of the scheduled run the scheduler would create now (or as soon as the DAG is
    unpaused): its ``next_dagrun`` interval, if that interval is due. None when nothing is due."""
    interval = dm.next_dagrun_data_interval
    due = dm.next_dagrun_create_after
    if interval is None or due is None or due > now:
        return None
    return interval.start.astimezone(UTC).date()


def default_day(now: datetime | None = None) -> date:
    """The latest complete UTC day: what a run triggered now would usually process."""
    return (now or datetime.now(UTC)).astimezone(UTC).date() - timedelta(days=1)
