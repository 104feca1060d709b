"""The console's Airflow plugin: the FastAPI app the api-server mounts and the menu entries.

Registered once, whichever way the package reached Airflow:

* installed (the wheel, or ``pip install -e .``): through the ``airflow.plugins`` entry point in
  ``pyproject.toml``, which names :class:`Trident1ConsolePlugin` here; no file to copy;
* a checkout or the image, with ``plugins/`` on ``sys.path`` but the package not installed: through
  ``plugins/trident1_console.py``, which exposes the class only when no installed distribution
  registers it already (:func:`registered_by_entry_point`), so that Airflow never sees it twice
  (a second registration would be skipped and listed among the plugin import errors).

Cheap to import: every Airflow process loads plugins; the pages are built on the api-server's first
request (``LazyConsoleApp``).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from airflow.plugins_manager import AirflowPlugin

from trident1_aiq.console import URL_PREFIX, LazyConsoleApp

ENTRY_POINT_GROUP = "airflow.plugins"
ENTRY_POINT = f"{__name__}:Trident1ConsolePlugin"


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


def registered_by_entry_point() -> bool:
    """Whether an installed distribution registers this plugin through ``airflow.plugins``."""
    return any(ep.value.replace(" ", "") == ENTRY_POINT for ep in entry_points(group=ENTRY_POINT_GROUP))
