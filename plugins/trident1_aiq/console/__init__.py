"""The integration's console inside Airflow's UI (issue 13).

``app.py`` is the FastAPI app the api-server mounts; ``data.py`` the plain functions behind the
pages; ``charts.py`` the inline SVG. This module stays import-light: Airflow loads plugin files in
every component (scheduler, dag-processor, each task), and only the api-server needs the pages.
"""

from __future__ import annotations

import threading
from typing import Any

URL_PREFIX = "/trident1"


class LazyConsoleApp:
    """An ASGI app that builds the console (and imports Airflow's API security modules) on its first
    request, i.e. only in the api-server that serves it, not in every process that loads plugins."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def app(self) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from trident1_aiq.console.app import create_app

                    self._app = create_app()
        return self._app

    async def __call__(self, scope, receive, send) -> None:
        await self.app()(scope, receive, send)
