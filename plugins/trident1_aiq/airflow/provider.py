"""The provider info behind the ``apache_airflow_provider`` entry point (``pyproject.toml``).

Import-light on purpose: Airflow's providers manager calls :func:`get_provider_info` in every process
that discovers providers; the hook (``hook.py``) is imported only when a Trident1 Connection is used.
Checked against Airflow's ``provider_info.schema.json`` by ``tests/unit/test_entry_points.py``: an
invalid provider info would break the discovery of every provider.
"""

from __future__ import annotations

from typing import Any

#: The distribution's name as Airflow canonicalises it; must equal pyproject's ``project.name``.
PACKAGE = "trident1-aiq"
CONN_TYPE = "trident1"
HOOK_CLASS = "trident1_aiq.airflow.hook.Trident1Hook"
#: Rule 1's three fields: host = the website, password = the API key, extra ``store_name``.
UI_FIELD_BEHAVIOUR = {
    "hidden-fields": ["login"],
    "relabeling": {"host": "Website", "password": "API key", "schema": "Scheme"},
    "placeholders": {"host": "yourstore.trident1.com", "schema": "https (the default)", "port": "443"},
}
CONN_FIELDS = {
    "store_name": {
        "label": "Store name",
        "description": "The Trident1 store name, sent with every request.",
        "schema": {"type": "string", "minLength": 1},
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE,
        "name": "Trident1 → AIQ",
        "description": "The Trident1 point-of-sale connection type of the Trident1 → AIQ integration.",
        "connection-types": [{
            "connection-type": CONN_TYPE,
            "hook-class-name": HOOK_CLASS,
            "hook-name": "Trident1 POS",
            "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            "conn-fields": CONN_FIELDS,
        }],
    }
