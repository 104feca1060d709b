"""Airflow plugin: the Trident1 → AIQ console (Store mappings, Integration health, Quarantine).

Registration only. The pages are a FastAPI app (``trident1_aiq.console.app``) that the
api-server mounts under ``/trident1``; the menu entries embed them in Airflow's UI.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from trident1_aiq.console.app import URL_PREFIX, create_app


def _view(name: str, page: str, category: str) -> dict:
    return {"name": name, "href": f"{URL_PREFIX}/{page}", "url_route": f"trident1-{page}",
            "destination": "nav", "category": category}


class Trident1ConsolePlugin(AirflowPlugin):
    name = "trident1_console"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Trident1 console"}]
    external_views = [
        _view("Trident1 store mappings", "mappings", "admin"),
        _view("Trident1 integration health", "health", "browse"),
        _view("Trident1 quarantine", "quarantine", "browse"),
    ]
