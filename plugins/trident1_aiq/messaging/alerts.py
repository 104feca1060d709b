"""Alerts for data engineers: a failed run, or a run that quarantined more than usual.

Plain functions: the message is built from plain values and delivered to a webhook
(JSON POST, optional bearer token) or by e-mail (SMTP). The Airflow side
(``airflow_adapter.FailureNotifier``, a ``BaseNotifier``) only reads the
Connection and calls :func:`deliver`. Messages carry names and counts, never
secrets.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import requests

from trident1_aiq.settings.config import AlertSettings


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str
    kind: str  # failure | quarantine


@dataclass(frozen=True)
class Endpoint:
    """Where to deliver: from the webhook or SMTP Connection."""

    host: str
    port: int | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    path: str = ""

    def __repr__(self) -> str:
        return f"Endpoint(host={self.host!r}, port={self.port!r})"


def failure_alert(dag_id: str, run_id: str, task_id: str | None, error: str | None) -> Alert:
    where = f"task {task_id}" if task_id else "the run"
    return Alert(subject=f"[{dag_id}] {run_id} failed",
                 text=f"{dag_id} run {run_id}: {where} failed.\n{(error or '').strip()[:2000]}", kind="failure")


def quarantine_alert(run_id: str, totals: dict[str, Any], rate: float, limit: float) -> Alert:
    return Alert(subject=f"[trident1_sales_daily] {run_id} quarantined {rate:.1%} of records",
                 text=(f"Run {run_id} succeeded but quarantined {totals.get('quarantined', 0)} sales and refunds "
                       f"({rate:.1%}, alert threshold {limit:.1%}). See the quarantine table and the "
                       "run_report log."), kind="quarantine")


def quarantine_rate(totals: dict[str, Any]) -> float:
    read = int(totals.get("sales_read", 0)) + int(totals.get("refunds_read", 0))
    return int(totals.get("quarantined", 0)) / read if read else 0.0


def deliver(alert: Alert, settings: AlertSettings, endpoint: Endpoint, timeout: float = 10.0) -> None:
    if settings.channel == "webhook":
        scheme = endpoint.schema or "https"
        url = f"{scheme}://{endpoint.host}{':' + str(endpoint.port) if endpoint.port else ''}{endpoint.path}"
        headers = {"Authorization": f"Bearer {endpoint.password}"} if endpoint.password else {}
        resp = requests.post(url, json={"subject": alert.subject, "text": alert.text, "kind": alert.kind},
                             headers=headers, timeout=timeout)
        resp.raise_for_status()
        return
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = alert.subject, settings.email_from, ", ".join(settings.email_to)
    msg.set_content(alert.text)
    with smtplib.SMTP(endpoint.host, endpoint.port or 25, timeout=timeout) as smtp:
        if endpoint.login:
            smtp.starttls()
            smtp.login(endpoint.login, endpoint.password or "")
        smtp.send_message(msg)
