"""Airflow plugin: the Trident1 → AIQ console (Store mappings, Integration health, Quarantine).

Registration only, and cheap to import (every Airflow process loads plugin files): the pages are a
FastAPI app (``trident1_aiq.console.app``) built on the first request by the api-server, which mounts
it under ``/trident1``; the menu entries embed them in Airflow's UI.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from trident1_aiq.console import URL_PREFIX, LazyConsoleApp


def _view(name: str, page: str, category: str) -> dict:
    return {"name": name, "href": f"{URL_PREFIX}/{page}", "url_route": f"trident1-{page}",
            "destination": "nav", "category": category}


class Trident1ConsolePlugin(AirflowPlugin):
    name = "trident1_console"
    fastapi_apps = [{"app": LazyConsoleApp(), "url_prefix": URL_PREFIX, "name": "Trident1 console"}]
    external_views = [
        _view("Trident1 store mappings", "mappings", "admin"),
        _view("Trident1 integration health", "health", "browse"),
        _view("Trident1 quarantine", "quarantine", "browse"),
    ]
