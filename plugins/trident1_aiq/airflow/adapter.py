"""The only module that talks to Airflow: Variables, Connections and task context in,
plain settings and plain function calls out. Every DAG task body is one call here,
given its run's facts (:class:`RunFacts`, read once from the task context by
:func:`run_facts`) rather than the context itself.

Airflow is imported inside the functions, so importing this module (at DAG parse
time) touches no Variable, Connection, network or database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from trident1_aiq.logs import get_logger
from trident1_aiq.settings.config import (
    VAR_INTEGRATION,
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
    unreported_mapping_warnings,
)
from trident1_aiq.warehouse import Warehouse, sqlite_url

log = get_logger(__name__)
WAREHOUSE_CONN_ID = "warehouse_default"
GATEWAY_CONN_ID = "aiq_sms_default"


# ------------------------------------------------------------------ reading Airflow
#
# Inside a task, Variables and Connections come through the Task SDK (``airflow.sdk``),
# which works only there. Outside a task (``config check --from-airflow``) they come from
# the metadata DB and the configured secrets backends, read the way Airflow itself does.


def read_variables() -> dict[str, str | None]:
    """The four Variables as a task sees them (None where one is not set)."""
    from airflow.sdk import Variable

    return {name: Variable.get(name, default=None) for name in VARIABLES}


class MetadataUnavailable(RuntimeError):
    """The Airflow metadata DB could not be read: nothing was checked."""


def read_variables_from_metadata() -> dict[str, str | None]:
    """The four Variables as Airflow holds them, read outside any task (the CLI).

    Airflow's secrets loop logs a database error and carries on as if the Variable were
    not set, so the metadata DB is probed first and any failure raised, never hidden.
    """
    # Outside a task only the ORM reads the metadata DB (as Airflow's own `airflow variables`
    # CLI does); airflow.sdk.Variable answers None there, which is how this check once said "ok"
    # without reading anything.
    from airflow.models import Variable  # noqa: AIR311
    from sqlalchemy import select

    try:
        from airflow.utils.session import create_session

        with create_session() as session:
            session.execute(select(Variable.key).limit(1)).all()  # noqa: AIR311
    except Exception as exc:
        raise MetadataUnavailable(
            f"cannot read Airflow's metadata DB ({type(exc).__name__}); is AIRFLOW_HOME set to the deployment's "
            "home and `airflow db migrate` done?") from None
    return {name: Variable.get(name, default_var=None) for name in VARIABLES}  # noqa: AIR311


def read_settings() -> Settings:
    return load_settings(read_variables())


def _task_connection(conn_id: str):
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _metadata_connection(conn_id: str):
    from airflow.models import Connection  # noqa: AIR311 — the metadata DB's, outside a task (see above)
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get_connection_from_secrets(conn_id)  # noqa: AIR311
    except AirflowNotFoundException:
        return None


_connection = _task_connection


def read_credential(conn_id: str, connection=None) -> Trident1Credential:
    conn = (connection or _connection)(conn_id)
    if conn is None:
        raise ConfigError([f"connection {conn_id}: not defined (add it as an Airflow Connection)"])
    return trident1_credential(conn_id, host=conn.host, schema=conn.schema, port=conn.port,
                               password=conn.password, extra=conn.extra_dejson)


def read_gateway(connection=None) -> GatewayCredential | None:
    conn = (connection or _connection)(GATEWAY_CONN_ID)
    if conn is None:
        return None
    return gateway_credential(GATEWAY_CONN_ID, host=conn.host, schema=conn.schema, port=conn.port,
                              password=conn.password)


def alert_endpoint(alerts: Any):
    """The alert channel's Connection as an ``alerts.Endpoint``."""
    from trident1_aiq.messaging.alerts import Endpoint

    conn_id = alerts.webhook_conn_id if alerts.channel == "webhook" else alerts.smtp_conn_id
    conn = _connection(conn_id)
    if conn is None:
        raise ConfigError([f"connection {conn_id}: not defined, but {alerts.channel} alerts are enabled"])
    path = (conn.extra_dejson or {}).get("path", "") if alerts.channel == "webhook" else ""
    return Endpoint(host=clean_website(conn.host or ""), port=conn.port, schema=conn.schema, login=conn.login,
                    password=conn.password, path=path)


def warehouse_url_from(conn: Any | None, default_path: Path) -> str:
    """``warehouse_default`` as a SQLAlchemy URL; SQLite at ``default_path`` when absent.

    A PostgreSQL Connection is read the provider's way: ``PostgresHook.sqlalchemy_url``
    (login, password, host, port, schema, the extras ``sqlalchemy_scheme`` and
    ``sqlalchemy_query``), plus the extras the hook itself passes to the driver when it
    connects (``sslmode``, ``sslrootcert``, ``connect_timeout``, …) as query parameters,
    which SQLAlchemy hands to psycopg the same way.
    """
    if conn is None:
        return sqlite_url(default_path)
    kind = (conn.conn_type or "").lower()
    if kind == "sqlite":
        host = conn.host or ""
        if host.startswith("sqlite:"):
            return host
        return sqlite_url(host or default_path)
    if kind in ("postgres", "postgresql"):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        url = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID, connection=conn).sqlalchemy_url
        driver_args = {k: str(v) for k, v in (conn.extra_dejson or {}).items()
                       if k not in PostgresHook.ignored_extra_options}
        url = url.set(query={**driver_args, **dict(url.query)})  # an explicit sqlalchemy_query wins
        return url.render_as_string(hide_password=False)
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


def settings_or_skip(facts: RunFacts) -> Settings:
    """Settings for the steps after ingest. They run only after a successful ``check_config``
    of the same run: when it failed, they end as skipped at once (no retries, nothing written)."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not facts.config_checked:
        raise AirflowSkipException("check_config did not pass in this run: nothing to do (rule 7)")
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


def run_instant_of(context: dict[str, Any]) -> datetime:
    """One fixed instant per run, for what must be stable across retries (keys, windows):
    the run's ``run_after``, when it became due (a scheduled run: the end of its
    interval) or was triggered (a manual run). Airflow sets it once, when it creates the run:
    neither a task's retry nor clearing the run changes it (clearing resets ``start_date``), and
    it is never the wall clock. Not used by opt-ins, which act on the real clock (see :func:`opt_in`)."""
    instant = getattr(context.get("dag_run"), "run_after", None)
    if instant is None:
        raise ValueError("the task's context has no dag_run.run_after: the run has no fixed instant")
    return instant.astimezone(UTC)


def real_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunFacts:
    """What a task body knows about its run, read once from the Airflow context."""

    run_id: str
    business_date: date
    now: datetime
    """The run's fixed instant (its ``run_after``): the same in every task, every retry and after a clear."""
    clock: Callable[[], datetime] = real_clock
    """The real time, read when it matters (a text is judged when it is sent, rules 3, 24)."""
    config_checked: bool = False
    """``check_config`` passed in this run (asked only by the steps after ingest)."""
    attempt: int = 1
    """The task's try number: a retry of an ingest shard skips what already loaded in this run."""


def run_facts(context: dict[str, Any] | None = None, *, after_check: bool = False) -> RunFacts:
    """The facts of the running task's run (``context``: the task's, by default).
    ``after_check`` asks whether this run's ``check_config`` passed (its XCom)."""
    if context is None:
        from airflow.sdk import get_current_context

        context = get_current_context()
    checked = False
    ti = context.get("ti") or context.get("task_instance")
    if after_check:
        checked = ti is not None and ti.xcom_pull(task_ids="check_config") is not None
    return RunFacts(run_id=run_id_of(context), business_date=business_date_of(context),
                    now=run_instant_of(context), config_checked=checked,
                    attempt=int(getattr(ti, "try_number", None) or 1))


# ------------------------------------------------------------------ task bodies


@dataclass
class ConfigReport:
    """What checking the configuration found: the settings (None when unreadable), the
    problems that stop a run (rule 7) and the warnings that do not (rule 6)."""

    settings: Settings | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_configuration(variables: dict[str, str | None], connection=None, *,
                        unreadable_is_problem: bool = True, every_credential: bool = True) -> ConfigReport:
    """Every problem with the Variables and Connections at once (rules 6, 7, 20).

    Reads each credential's Connection (``every_credential``, below) and asks Trident1 for its
    locations (a mapping to a location it does not report is a warning) and, where AIQ discounts
    mirror it, its discount catalogue (an in-store-only or unknown discount is a problem).
    ``connection`` looks a Connection up (inside a task by default; the CLI passes the metadata DB's).

    A credential Trident1 refuses (401/403) or cannot serve (5xx until the retries run out) is a
    problem for ``config check`` (``unreadable_is_problem``); for the run it is a warning: that
    credential's ingest fails alone, with its own ``etl_runs`` row, and the others load (issue 19
    item 11). A malformed or missing Variable, or a malformed or missing Connection that is read
    here, is a problem: it stops the run whole (rule 7).

    ``every_credential`` False (the run's ``check_config``) reads only the Connections of the
    credentials whose discounts AIQ mirrors (rule 20 needs their catalogues before anything is
    written). Every other credential's Connection is read by its own ingest shard, where a missing
    or malformed one fails that credential alone, with its own ``etl_runs`` row, as a refused key
    does: one task reading thousands of Connections is what limited a fleet's run (Airflow's
    secrets masker recompiles one pattern of every secret it holds at each new one, so the reads
    cost the square of their number: 1,108 s of a 1,510 s run at 2,000 accounts, issue 18).
    """
    from trident1_aiq.ingest.client import Trident1Client, Trident1Error

    try:
        settings = load_settings(variables)
    except ConfigError as exc:
        return ConfigReport(None, list(exc.problems))
    report = ConfigReport(settings)
    mirrored = {d.credential for d in settings.discounts}
    for conn_id in settings.integration.credentials:
        if not every_credential and conn_id not in mirrored:
            continue
        try:
            client = Trident1Client(read_credential(conn_id, connection))
        except ConfigError as exc:
            why = "" if every_credential else " (read before the run: AIQ mirrors its discounts, rule 20)"
            report.problems.extend(p + why for p in exc.problems)
            continue
        try:
            locations = {str(loc["id"]) for loc in client.locations() if isinstance(loc, dict) and loc.get("id")}
            report.warnings.extend(unreported_mapping_warnings(settings, conn_id, locations))
            if conn_id in mirrored:
                report.problems.extend(check_discount_mirrors(settings, conn_id, client.discounts()))
        except Trident1Error as exc:
            message = f"connection {conn_id}: Trident1 could not be read: {exc}"
            if unreadable_is_problem:
                report.problems.append(message)
            else:
                report.warnings.append(f"{message}; its ingest will fail alone, the other credentials load")
    if settings.integration.marketing.enabled:
        try:
            if read_gateway(connection) is None:
                report.problems.append(f"connection {GATEWAY_CONN_ID}: not defined, but marketing is enabled")
        except ConfigError as exc:
            report.problems.extend(exc.problems)
    return report


def check_config(facts: RunFacts) -> list[list[str]]:
    """Validate every Variable, the gateway's Connection and the Connections of credentials
    with mirrored discounts, then migrate and mirror settings (rule 7); each other credential's
    Connection is read, and checked, by its ingest shard (:func:`check_configuration`).

    Returns the run's ingest shards (``shards.plan_shards``): at most ``max_shards`` lists of
    credentials, balanced by their recent volume in ``etl_runs``.
    """
    from trident1_aiq.ingest.pipeline import prepare_run
    from trident1_aiq.runs import record_config_failure
    from trident1_aiq.shards import plan_shards, recent_volume

    now = facts.clock()
    run_id, day = facts.run_id, facts.business_date
    report = check_configuration(read_variables(), unreadable_is_problem=False, every_credential=False)
    for warning in report.warnings:
        log.warning("%s", warning)
    with open_warehouse() as wh:
        if report.problems or report.settings is None:
            error = ConfigError(report.problems)
            record_config_failure(wh, run_id, day, str(error), now)
            log.error("%s", error)
            raise _no_retry(error)
        settings = report.settings
        applied = prepare_run(wh, settings, now)
        if applied:
            log.info("warehouse %s: applied migrations %s", wh.safe_url, ", ".join(applied))
        integ = settings.integration
        shards = plan_shards(integ.credentials, integ.max_shards, recent_volume(wh, now))
    log.info("business date %s; %d credentials in %d shards", day, len(integ.credentials), len(shards))
    return shards


def announce(task: str, facts: RunFacts, summary: dict[str, Any], context: dict[str, Any] | None = None,
             credentials: list[str] | None = None) -> dict[str, Any]:
    """Give this task's asset events (its outlets, ``assets.py``) their extras: the business day, the
    shard's ``credentials`` (ingest) and the counts of ``summary``; returns ``summary`` (the task's
    XCom, counts only). Airflow records the events when the task succeeds."""
    from trident1_aiq.airflow.assets import event_extras

    if context is None:
        from airflow.sdk import get_current_context

        context = get_current_context()
    events = context["outlet_events"]
    for asset, extra in event_extras(task, facts.business_date.isoformat(), summary, credentials).items():
        events[asset].extra = extra
    return summary


def _no_retry(exc: Exception) -> Exception:
    """Errors that a retry cannot fix fail the task at once (Airflow's AirflowFailException)."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(str(exc))


def ingest(credential: str, facts: RunFacts) -> dict[str, Any]:
    """One credential's ingest in a task of its own (tests; the DAG maps :func:`ingest_shard`)."""
    from trident1_aiq.ingest.client import RetriesExhausted, Trident1Error
    from trident1_aiq.ingest.pipeline import RejectRateExceeded

    settings = read_settings()
    with open_warehouse() as wh:
        try:
            return _ingest_one(wh, settings, credential, facts)
        except RetriesExhausted:
            raise  # transient: the task's own retries may get through
        except (ConfigError, RejectRateExceeded, Trident1Error) as exc:
            raise _no_retry(exc) from None


def _ingest_one(wh: Warehouse, settings: Settings, credential: str, facts: RunFacts) -> dict[str, Any]:
    from trident1_aiq.ingest.client import Trident1Client
    from trident1_aiq.ingest.pipeline import ingest_credential, run_window
    from trident1_aiq.runs import record_credential_failure

    now = facts.clock()
    window = run_window(facts.business_date, settings.integration.lookback_hours, now)
    try:
        client = Trident1Client(read_credential(credential))
    except ConfigError as exc:  # its Connection is missing or malformed: its own row says so, the others load
        record_credential_failure(wh, facts.run_id, credential, window.business_date, window.start, window.end,
                                  f"ConfigError: {exc}", now)
        raise
    return ingest_credential(wh=wh, client=client, settings=settings, credential=credential, run_id=facts.run_id,
                             window=window, now=now)


class ShardFailed(RuntimeError):
    """Credentials of a shard failed after the others finished; a retry may get through
    (some failures were transient)."""


SHARD_TALLIES = ("credentials", "succeeded", "skipped", "failed")


def ingest_shard(credentials: list[str], facts: RunFacts) -> dict[str, int]:
    """Ingest a shard's credentials one after another in this one task (issue 18).

    The imports, the settings, the warehouse connection and the migration check are paid once
    for the shard. Each credential has its own ``etl_runs`` row; one that fails (its key refused,
    its API down, too many rejects) is logged by name and the others still load. The task then
    fails if any credential failed: at once when no retry can help (refused key, reject rate,
    configuration), else so that Airflow retries it; a retry skips the credentials that already
    succeeded in this run. Returns counts only (XCom stays small).
    """
    from trident1_aiq.ingest.client import RetriesExhausted
    from trident1_aiq.runs import succeeded

    settings = read_settings()
    failed: dict[str, str] = {}
    transient = False
    totals = {"credentials": len(credentials), "succeeded": 0, "skipped": 0, "failed": 0, "records_read": 0,
              "loaded": 0, "updated": 0, "quarantined": 0, "held": 0}
    with open_warehouse() as wh:
        done = succeeded(wh, facts.run_id, credentials) if facts.attempt > 1 else set()
        for credential in credentials:
            if credential in done:
                log.info("%s: already loaded in this run (an earlier attempt): skipped", credential)
                totals["skipped"] += 1
                continue
            try:
                summary = _ingest_one(wh, settings, credential, facts)
            except Exception as exc:  # this credential's failure alone: its row says why; the others go on
                transient = transient or isinstance(exc, RetriesExhausted)
                failed[credential] = f"{type(exc).__name__}: {exc}"
                log.error("credential %s failed: %s", credential, failed[credential])
                continue
            totals["succeeded"] += 1
            for k, v in summary.items():  # every count of the credential's summary, summed over the shard
                if isinstance(v, int) and not isinstance(v, bool) and k not in SHARD_TALLIES:
                    totals[k] = totals.get(k, 0) + v
    totals["failed"] = len(failed)
    log.info("shard of %d credentials: %s", len(credentials), totals)
    if failed:
        message = f"{len(failed)} of {len(credentials)} credentials failed: " + "; ".join(
            f"{c} ({why[:300]})" for c, why in failed.items())
        if transient:
            raise ShardFailed(message)  # Airflow retries the shard; the succeeded ones are skipped
        raise _no_retry(ShardFailed(message))
    return totals


def loyalty(facts: RunFacts) -> dict[str, Any]:
    """Enrolment, earn, redemptions and refund reconciliation over what is loaded."""
    from trident1_aiq.loyalty.points import run_loyalty

    settings = settings_or_skip(facts)
    with open_warehouse() as wh:
        return run_loyalty(wh, settings, facts.run_id, facts.clock()).summary()


def opt_in(facts: RunFacts) -> dict[str, Any]:
    """Replies, expiry, new requests and sends of SMS double opt-ins.

    Quiet hours and the first-send gate are judged on the real clock immediately before
    each send (rules 3, 24), whatever the run's start: ``dags test`` starts a run at its
    logical date, and a retry may send hours after the run began. The rows it writes are
    stamped with the real clock too (a backfill run is due in the past; its requests are
    made now), never with the run's fixed instant.
    """
    from trident1_aiq.messaging.optin import run_opt_in
    from trident1_aiq.messaging.sms import GatewayClient

    settings = settings_or_skip(facts)
    cred = read_gateway()
    with open_warehouse() as wh:
        counts = run_opt_in(wh, GatewayClient(cred) if cred else None, settings, facts.run_id, clock=facts.clock)
    if counts.errors:  # sends still pending after the client's retries: let Airflow retry the task
        raise RuntimeError(f"{len(counts.errors)} opt-in sends failed transiently; first: {counts.errors[0]}")
    return counts.summary()


def send_alert(alert: Any) -> bool:
    """Deliver an ``alerts.Alert`` through the configured channel; False when alerts are off
    or delivery failed (logged, never raised over what is being reported)."""
    from airflow.sdk import Variable

    from trident1_aiq.messaging.alerts import deliver
    from trident1_aiq.settings.config import alert_settings

    try:  # the alert channel alone: a refused configuration is exactly when an alert matters
        text = Variable.get(VAR_INTEGRATION, default=None)
        if text is None:  # a DAG callback outside a task (dags test): the SDK answers None, the metadata DB holds it
            text = _stored_variable(VAR_INTEGRATION)
        settings = alert_settings(text)
    except ConfigError as exc:
        log.error("alert not sent: the alert settings are unreadable: %s", "; ".join(exc.problems))
        return False
    except Exception as exc:
        log.error("alert not sent: the alert settings could not be read (%s)", type(exc).__name__)
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


def _stored_variable(name: str) -> str | None:
    try:
        from airflow.models import Variable  # noqa: AIR311 — the metadata DB, outside a task

        return Variable.get(name, default_var=None)  # noqa: AIR311
    except Exception:  # no metadata DB here (a task's worker): the SDK's answer stands
        return None


def failure_reasons(run_id: str) -> list[str]:
    """Why the run failed, from its own ``etl_runs`` rows: ``credential: reason`` per failed row
    (the failure alert carries them). Empty when the warehouse cannot say."""
    from trident1_aiq.report import reasons

    try:
        with open_warehouse() as wh, wh.begin() as conn:
            rows = wh.query(conn, "report/run_rows", {"run_id": run_id})
    except Exception as exc:
        log.warning("the run's reasons could not be read for the alert (%s)", type(exc).__name__)
        return []
    return [f"{'configuration' if r['credential'] == '*' else r['credential']}: {reason}"
            for r in rows if r["status"] != "success" for reason in reasons(r.get("notes"))]


def maybe_quarantine_alert(run_id: str, totals: dict[str, Any], settings: Settings) -> bool:
    """A run that succeeded but quarantined more than ``alerts.quarantine_rate_over``."""
    from trident1_aiq.messaging.alerts import quarantine_alert, quarantine_rate

    alerts = settings.integration.alerts
    rate = quarantine_rate(totals)
    if not alerts.enabled or rate <= alerts.quarantine_rate_over:
        return False
    return send_alert(quarantine_alert(run_id, totals, rate, alerts.quarantine_rate_over))


def run_report(facts: RunFacts) -> dict[str, Any]:
    from trident1_aiq.report import run_summary

    with open_warehouse() as wh:
        try:
            settings = read_settings()
        except ConfigError:
            settings = None
        text, totals = run_summary(wh, facts.run_id, settings)
        log.info("run summary\n%s", text)
        if settings is not None and not totals["failed"]:
            maybe_quarantine_alert(facts.run_id, totals, settings)
        if totals["failed"]:  # this task is the leaf: it must not turn a failed run green
            raise RuntimeError(f"credentials failed in this run: {', '.join(totals['failed'])}")
        return totals
