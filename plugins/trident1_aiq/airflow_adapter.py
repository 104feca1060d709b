"""The only module that talks to Airflow: Variables, Connections and task context in,
plain settings and plain function calls out. Every DAG task body is one call here.

Airflow is imported inside the functions, so importing this module (at DAG parse
time) touches no Variable, Connection, network or database.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from .config import (
    VARIABLES,
    ConfigError,
    GatewayCredential,
    Settings,
    Trident1Credential,
    check_discount_mirrors,
    clean_website,
    gateway_credential,
    load_settings,
    trident1_credential,
)
from .warehouse import Warehouse, sqlite_url

log = logging.getLogger(__name__)
WAREHOUSE_CONN_ID = "warehouse_default"
GATEWAY_CONN_ID = "aiq_sms_default"


# ------------------------------------------------------------------ reading Airflow


def read_variables() -> dict[str, str | None]:
    from airflow.sdk import Variable

    return {name: Variable.get(name, default=None) for name in VARIABLES}


def read_settings() -> Settings:
    return load_settings(read_variables())


def _connection(conn_id: str):
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException and friends
        if "isn't defined" in str(exc) or "not found" in str(exc).lower() or type(exc).__name__.endswith("NotFoundException"):
            return None
        raise


def read_credential(conn_id: str) -> Trident1Credential:
    conn = _connection(conn_id)
    if conn is None:
        raise ConfigError([f"connection {conn_id}: not defined (add it as an Airflow Connection)"])
    return trident1_credential(conn_id, host=conn.host, schema=conn.schema, port=conn.port,
                               password=conn.password, extra=conn.extra_dejson)


def read_gateway() -> GatewayCredential | None:
    conn = _connection(GATEWAY_CONN_ID)
    if conn is None:
        return None
    return gateway_credential(GATEWAY_CONN_ID, host=conn.host, schema=conn.schema, port=conn.port,
                              password=conn.password)


def alert_endpoint(alerts: Any):
    """The alert channel's Connection as an ``alerts.Endpoint``."""
    from .alerts import Endpoint

    conn_id = alerts.webhook_conn_id if alerts.channel == "webhook" else alerts.smtp_conn_id
    conn = _connection(conn_id)
    if conn is None:
        raise ConfigError([f"connection {conn_id}: not defined, but {alerts.channel} alerts are enabled"])
    path = (conn.extra_dejson or {}).get("path", "") if alerts.channel == "webhook" else ""
    return Endpoint(host=clean_website(conn.host or ""), port=conn.port, schema=conn.schema, login=conn.login,
                    password=conn.password, path=path)


def warehouse_url_from(conn: Any | None, default_path: Path) -> str:
    """``warehouse_default`` as a SQLAlchemy URL; SQLite at ``default_path`` when absent."""
    from sqlalchemy.engine import URL

    if conn is None:
        return sqlite_url(default_path)
    kind = (conn.conn_type or "").lower()
    if kind == "sqlite":
        host = conn.host or ""
        if host.startswith("sqlite:"):
            return host
        return sqlite_url(host or default_path)
    if kind in ("postgres", "postgresql"):
        return URL.create("postgresql+psycopg", username=conn.login or None, password=conn.password or None,
                          host=conn.host or "localhost", port=conn.port or 5432,
                          database=conn.schema or "postgres").render_as_string(hide_password=False)
    raise ConfigError([f"connection {WAREHOUSE_CONN_ID}: type {kind!r} is not supported (postgres or sqlite)"])


def default_warehouse_path() -> Path:
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return home / "trident1_warehouse.db"


def read_warehouse() -> Warehouse:
    return Warehouse(warehouse_url_from(_connection(WAREHOUSE_CONN_ID), default_warehouse_path()))


@contextmanager
def open_warehouse() -> Iterator[Warehouse]:
    wh = read_warehouse()
    try:
        yield wh
    finally:
        wh.dispose()


def settings_or_skip() -> Settings:
    """Settings for the steps after ingest; an invalid configuration skips them (check_config failed)."""
    from airflow.sdk.exceptions import AirflowSkipException

    try:
        return read_settings()
    except ConfigError:
        raise AirflowSkipException("configuration is invalid: see check_config") from None


# ------------------------------------------------------------------ run context


def business_date_of(context: dict[str, Any]) -> date:
    """The business day a run processes: the ``business_date`` param of a manual run,
    else the start of the run's data interval (the explicit daily timetable's day)."""
    param = (context.get("params") or {}).get("business_date")
    if param:
        return date.fromisoformat(str(param))
    start = context.get("data_interval_start") or context.get("logical_date")
    if start is not None:
        return start.astimezone(UTC).date()
    # A manual run of Airflow 3 may have no logical date: the latest complete UTC day before it.
    dag_run = context.get("dag_run")
    after = getattr(dag_run, "run_after", None) or datetime.now(UTC)
    return after.astimezone(UTC).date() - timedelta(days=1)


def run_id_of(context: dict[str, Any]) -> str:
    return str(context["run_id"])


# ------------------------------------------------------------------ task bodies


def config_problems() -> tuple[Settings | None, list[str]]:
    """Every problem with the Variables and Connections at once (rules 7, 20)."""
    from .client import Trident1Client

    try:
        settings = read_settings()
    except ConfigError as exc:
        return None, list(exc.problems)
    problems: list[str] = []
    for conn_id in settings.integration.credentials:
        try:
            cred = read_credential(conn_id)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if any(d.credential == conn_id for d in settings.discounts):
            problems.extend(check_discount_mirrors(settings, conn_id, Trident1Client(cred).discounts()))
    if settings.integration.marketing.enabled:
        try:
            if read_gateway() is None:
                problems.append(f"connection {GATEWAY_CONN_ID}: not defined, but marketing is enabled")
        except ConfigError as exc:
            problems.extend(exc.problems)
    return settings, problems


def check_config(context: dict[str, Any]) -> list[str]:
    """Validate every Variable and Connection, then migrate and mirror settings (rule 7)."""
    from .pipeline import prepare_run, record_config_failure

    now = datetime.now(UTC)
    run_id, day = run_id_of(context), business_date_of(context)
    settings, problems = config_problems()
    with open_warehouse() as wh:
        if problems or settings is None:
            error = ConfigError(problems)
            record_config_failure(wh, run_id, day, str(error), now)
            log.error("%s", error)
            raise _no_retry(error)
        applied = prepare_run(wh, settings, now)
        if applied:
            log.info("warehouse %s: applied migrations %s", wh.safe_url, ", ".join(applied))
    log.info("business date %s; credentials: %s", day, ", ".join(settings.integration.credentials))
    return list(settings.integration.credentials)


def _no_retry(exc: Exception) -> Exception:
    """Errors that a retry cannot fix fail the task at once (Airflow's AirflowFailException)."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(str(exc))


def ingest(credential: str, context: dict[str, Any]) -> dict[str, Any]:
    from .client import RetriesExhausted, Trident1Client, Trident1Error
    from .pipeline import RejectRateExceeded, ingest_credential, run_window

    now = datetime.now(UTC)
    settings = read_settings()
    window = run_window(business_date_of(context), settings.integration.lookback_hours, now)
    with open_warehouse() as wh:
        try:
            return ingest_credential(wh=wh, client=Trident1Client(read_credential(credential)), settings=settings,
                                     credential=credential, run_id=run_id_of(context), window=window, now=now)
        except RetriesExhausted:
            raise  # transient: the task's own retries may get through
        except (ConfigError, RejectRateExceeded, Trident1Error) as exc:
            raise _no_retry(exc) from None


def loyalty(context: dict[str, Any]) -> dict[str, Any]:
    """Enrolment, earn, redemptions and refund reconciliation over what is loaded."""
    from .loyalty import run_loyalty

    settings = settings_or_skip()
    with open_warehouse() as wh:
        return run_loyalty(wh, settings, run_id_of(context), datetime.now(UTC)).summary()


def run_now(context: dict[str, Any]) -> datetime:
    """One instant per run (rule 24's clock): the run's start, so a retried task sees the same time."""
    dag_run = context.get("dag_run")
    start = getattr(dag_run, "start_date", None)
    return start.astimezone(UTC) if start else datetime.now(UTC)


def opt_in(context: dict[str, Any]) -> dict[str, Any]:
    """Replies, expiry, new requests and sends of SMS double opt-ins."""
    from .optin import run_opt_in
    from .sms import GatewayClient

    settings = settings_or_skip()
    cred = read_gateway()
    with open_warehouse() as wh:
        counts = run_opt_in(wh, GatewayClient(cred) if cred else None, settings, run_id_of(context),
                            run_now(context))
    if counts.errors:  # sends still pending after the client's retries: let Airflow retry the task
        raise RuntimeError(f"{len(counts.errors)} opt-in sends failed transiently; first: {counts.errors[0]}")
    return counts.summary()


def maybe_quarantine_alert(run_id: str, totals: dict[str, Any], settings: Settings) -> bool:
    """A run that succeeded but quarantined more than ``alerts.quarantine_rate_over``."""
    from .alerts import quarantine_alert, quarantine_rate
    from .notifier import send_alert

    alerts = settings.integration.alerts
    rate = quarantine_rate(totals)
    if not alerts.enabled or rate <= alerts.quarantine_rate_over:
        return False
    return send_alert(quarantine_alert(run_id, totals, rate, alerts.quarantine_rate_over))


def run_report(context: dict[str, Any]) -> dict[str, Any]:
    from .report import run_summary

    with open_warehouse() as wh:
        try:
            settings = read_settings()
        except ConfigError:
            settings = None
        text, totals = run_summary(wh, run_id_of(context), settings)
        log.info("run summary\n%s", text)
        if settings is not None and not totals["failed"]:
            maybe_quarantine_alert(run_id_of(context), totals, settings)
        if totals["failed"]:  # this task is the leaf: it must not turn a failed run green
            raise RuntimeError(f"credentials failed in this run: {', '.join(totals['failed'])}")
        return totals
