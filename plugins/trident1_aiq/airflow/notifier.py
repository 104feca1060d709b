"""Airflow's notifier mechanism for this DAG: ``on_failure_callback=FailureNotifier()``.

Off unless ``trident1_integration.alerts.enabled``. Everything is read when the
notifier fires, never at parse time; a delivery problem is logged, never raised
over the failure being reported (``airflow_adapter.send_alert``).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseNotifier

from trident1_aiq.airflow.adapter import failure_reasons, send_alert
from trident1_aiq.logs import get_logger
from trident1_aiq.messaging.alerts import failure_alert

log = get_logger(__name__)


class FailureNotifier(BaseNotifier):
    """A failed run (or task) → one alert with the DAG, run, task and error."""

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing is templated here. (Airflow's default asks the DAG for a template
        environment, which the serialized DAG of ``airflow dags test`` does not have: the
        callback then crashed and buried the run's real error.)"""

    def notify(self, context: Any) -> None:
        dag_run = context.get("dag_run")
        ti = context.get("ti") or context.get("task_instance")
        error = context.get("exception") or context.get("reason")
        run_id = getattr(dag_run, "run_id", None) or str(context.get("run_id") or "?")
        why = failure_reasons(run_id)  # the run's own etl_runs rows: why each credential failed
        send_alert(failure_alert(
            dag_id=getattr(dag_run, "dag_id", None) or str(context.get("dag_id") or "trident1_sales_daily"),
            run_id=run_id,
            task_id=getattr(ti, "task_id", None),
            error="\n".join(([str(error)] if error else []) + why) or None,
        ))
