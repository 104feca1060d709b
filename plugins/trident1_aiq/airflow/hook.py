"""The Trident1 connection type: ``Trident1Hook`` (``conn_type="trident1"``).

An installed package announces it through the ``apache_airflow_provider`` entry point of
``pyproject.toml`` (``provider.py``); Airflow's providers manager then lists "Trident1 POS" among the
Connection types, with a form of three fields (rule 1): the website (the Connection's host), the API
key (its password) and the store name (the extra field ``store_name``), and its *Test* button calls
:meth:`Trident1Hook.test_connection`, which asks Trident1 for ``/locations``.

The form is declared in the provider info (``conn-fields``, ``ui-field-behaviour``, ``provider.py``):
Airflow 3.2 deprecated the hook methods ``get_connection_form_widgets`` / ``get_ui_field_behaviour``
for it, and skips them when the provider info declares the form.
Connections of type ``http`` with the JSON extra ``{"store_name": "..."}`` keep working: the settings
reader (``settings/config.py``, ``trident1_credential``) reads the same host, password and extra of
either type.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from trident1_aiq.airflow.provider import CONN_TYPE
from trident1_aiq.settings.config import Trident1Credential, trident1_credential


class Trident1Hook(BaseHook):
    """A Trident1 store account: its credential (rule 1) and the Connection form's *Test* button."""

    conn_name_attr = "trident1_conn_id"
    default_conn_name = "trident1_default"
    conn_type = CONN_TYPE
    hook_name = "Trident1 POS"

    def __init__(self, trident1_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trident1_conn_id = trident1_conn_id

    def get_credential(self) -> Trident1Credential:
        """The Connection as the DAG reads it; a missing field is a ``ConfigError`` naming it."""
        conn = self.get_connection(self.trident1_conn_id)
        return trident1_credential(self.trident1_conn_id, host=conn.host, schema=conn.schema, port=conn.port,
                                   password=conn.password, extra=conn.extra_dejson)

    def test_connection(self) -> tuple[bool, str]:
        """Ask Trident1 for the account's locations, once, without the pipeline's retries; the message
        never carries the key."""
        from trident1_aiq.http_client import HttpError, RetryPolicy
        from trident1_aiq.ingest.client import Trident1Client
        from trident1_aiq.settings.config import ConfigError

        try:
            credential = self.get_credential()
            locations = Trident1Client(credential, retry=RetryPolicy(attempts=1), timeout=(5.0, 20.0)).locations()
        except ConfigError as exc:
            return False, "; ".join(exc.problems)
        except HttpError as exc:
            return False, str(exc)
        return True, (f"Trident1 answered for store {credential.store_name!r}: "
                      f"{len(locations)} location(s) at {credential.base_url}")
