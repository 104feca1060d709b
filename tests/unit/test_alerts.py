"""Alerts through Airflow's notifier mechanism, delivered to local webhook and SMTP receivers."""

from __future__ import annotations

import json
import socketserver
import threading
from types import SimpleNamespace

import pytest

from trident1_aiq.airflow.adapter import maybe_quarantine_alert
from trident1_aiq.airflow.notifier import FailureNotifier
from trident1_aiq.dev.demo import variable_env
from trident1_aiq.settings.config import default_variable_text, demo_settings

from ..factories import Webhook

pytestmark = pytest.mark.unit


class Smtp:
    """The few SMTP verbs smtplib uses, enough to receive one message."""

    def __init__(self):
        self.messages: list[str] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 localhost ESMTP test\r\n")
                data = None
                for raw in self.rfile:
                    line = raw.decode("utf-8", "replace")
                    if data is not None:
                        if line.rstrip("\r\n") == ".":
                            outer.messages.append("".join(data))
                            data = None
                            self.wfile.write(b"250 OK\r\n")
                        else:
                            data.append(line)
                        continue
                    verb = line[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250 localhost\r\n")
                    elif verb == "DATA":
                        data = []
                        self.wfile.write(b"354 end with .\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 OK\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def set_demo_variables(monkeypatch):
    for name, value in variable_env().items():
        monkeypatch.setenv(name, value)


def alerting(monkeypatch, **alerts):
    set_demo_variables(monkeypatch)
    integ = json.loads(default_variable_text("trident1_integration"))
    integ["alerts"] = alerts
    monkeypatch.setenv("AIRFLOW_VAR_TRIDENT1_INTEGRATION", json.dumps(integ))
    return demo_settings({"trident1_integration": json.dumps(integ)})


@pytest.fixture
def webhook(monkeypatch):
    hook = Webhook()
    monkeypatch.setenv("AIRFLOW_CONN_AIQ_ALERTS_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": hook.port, "schema": "http",
         "password": "alert-token-123", "extra": {"path": "/hooks/aiq"}}))
    yield hook
    hook.close()


@pytest.fixture
def smtp(monkeypatch):
    server = Smtp()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": server.port}))
    yield server
    server.close()


def failed_context():
    return {"dag_run": SimpleNamespace(dag_id="trident1_sales_daily", run_id="scheduled__2026-11-25"),
            "ti": SimpleNamespace(task_id="ingest"), "exception": RuntimeError("reject rate 9% exceeds 5%")}


def test_alerts_are_off_by_default(webhook, monkeypatch, caplog):
    set_demo_variables(monkeypatch)  # readable settings, alerts not enabled
    FailureNotifier().notify(failed_context())
    assert webhook.received == [] and "settings unreadable" not in caplog.text


def test_failure_callback_survives_a_dag_without_template_env(webhook, monkeypatch):
    """Under `airflow dags test` the callback's context holds a SerializedDAG, which has no
    get_template_env: calling the notifier as Airflow does must still deliver the alert."""
    alerting(monkeypatch, enabled=True, channel="webhook")
    context = dict(failed_context(), dag=SimpleNamespace(dag_id="trident1_sales_daily"))
    FailureNotifier()(context)
    ((_, body),) = webhook.received
    assert body["kind"] == "failure"


def test_failure_notifier_posts_to_the_webhook(webhook, monkeypatch):
    alerting(monkeypatch, enabled=True, channel="webhook")
    FailureNotifier().notify(failed_context())
    ((headers, body),) = webhook.received
    assert headers["Authorization"] == "Bearer alert-token-123"
    assert body["kind"] == "failure" and "scheduled__2026-11-25" in body["subject"]
    assert "ingest" in body["text"] and "reject rate 9%" in body["text"]


def test_quarantine_over_threshold_is_mailed(smtp, monkeypatch):
    settings = alerting(monkeypatch, enabled=True, channel="email", email_to=["data@example.com"],
                        quarantine_rate_over=0.05)
    totals = {"quarantined": 12, "sales_read": 100, "refunds_read": 20}
    assert maybe_quarantine_alert("run-7", totals, settings) is True
    (message,) = smtp.messages
    assert "To: data@example.com" in message and "run-7 quarantined 10.0% of records" in message


def test_quarantine_under_threshold_sends_nothing(webhook, monkeypatch):
    settings = alerting(monkeypatch, enabled=True, channel="webhook", quarantine_rate_over=0.05)
    assert maybe_quarantine_alert("run-8", {"quarantined": 1, "sales_read": 100, "refunds_read": 0}, settings) is False
    assert webhook.received == []


def test_email_alerts_need_recipients():
    integ = json.loads(default_variable_text("trident1_integration"))
    integ["alerts"] = {"enabled": True, "channel": "email"}
    with pytest.raises(Exception, match="trident1_integration.alerts"):
        demo_settings({"trident1_integration": json.dumps(integ)})


@pytest.mark.parametrize("broken", ["a mapping to a store that does not exist", "aiq_retail_stores not set",
                                    "another key of trident1_integration invalid"])
def test_item13_a_refused_configuration_still_alerts(broken, webhook, monkeypatch):
    """Issue 19 item 13: the alert channel's settings are read on their own, so the alert goes out
    exactly when the rest of the configuration is refused."""
    alerting(monkeypatch, enabled=True, channel="webhook")
    if broken.startswith("a mapping"):
        maps = json.loads(default_variable_text("trident1_store_mappings"))
        maps[0]["store_id"] = "atlantis"
        monkeypatch.setenv("AIRFLOW_VAR_TRIDENT1_STORE_MAPPINGS", json.dumps(maps))
    elif broken.startswith("aiq_retail_stores"):
        monkeypatch.delenv("AIRFLOW_VAR_AIQ_RETAIL_STORES")
    else:
        integ = json.loads(default_variable_text("trident1_integration"))
        integ.update(lookback_hours=-5, alerts={"enabled": True, "channel": "webhook"})
        monkeypatch.setenv("AIRFLOW_VAR_TRIDENT1_INTEGRATION", json.dumps(integ))
    FailureNotifier().notify(dict(failed_context(), ti=SimpleNamespace(task_id="check_config")))
    ((_, body),) = webhook.received
    assert body["kind"] == "failure" and "check_config" in body["text"]


def test_item13_unreadable_alert_settings_say_why_in_the_log(webhook, monkeypatch, caplog):
    set_demo_variables(monkeypatch)
    monkeypatch.setenv("AIRFLOW_VAR_TRIDENT1_INTEGRATION", '{"alerts": {"enabled": true, "channel": "pager"}}')
    FailureNotifier().notify(failed_context())
    assert webhook.received == []
    assert "alert not sent: the alert settings are unreadable: trident1_integration.alerts.channel: " in caplog.text
