"""Airflow's notifier mechanism for this DAG: ``on_failure_callback=FailureNotifier()``.

Off unless ``trident1_integration.alerts.enabled``. Everything is read when the
notifier fires, never at parse time; a delivery problem is logged, never raised
over the failure being reported.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

from .alerts import Alert, failure_alert

log = logging.getLogger(__name__)


def send_alert(alert: Alert) -> bool:
    """Deliver through the configured channel; False when alerts are off or delivery failed."""
    from .airflow_adapter import alert_endpoint, read_settings
    from .alerts import deliver

    try:
        settings = read_settings().integration.alerts
    except Exception as exc:  # a broken Variable is exactly when an alert matters: say so in the log
        log.error("alert not sent: settings unreadable (%s)", type(exc).__name__)
        return False
    if not settings.enabled:
        return False
    try:
        deliver(alert, settings, alert_endpoint(settings))
    except Exception as exc:
        log.error("alert %r not delivered: %s", alert.subject, type(exc).__name__)
        return False
    log.info("alert sent: %s", alert.subject)
    return True


class FailureNotifier(BaseNotifier):
    """A failed run (or task) → one alert with the DAG, run, task and error."""

    def notify(self, context: Any) -> None:
        dag_run = context.get("dag_run")
        ti = context.get("ti") or context.get("task_instance")
        error = context.get("exception") or context.get("reason")
        send_alert(failure_alert(
            dag_id=getattr(dag_run, "dag_id", None) or str(context.get("dag_id") or "trident1_sales_daily"),
            run_id=getattr(dag_run, "run_id", None) or str(context.get("run_id") or "?"),
            task_id=getattr(ti, "task_id", None),
            error=str(error) if error else None,
        ))
