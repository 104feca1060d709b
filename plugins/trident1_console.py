"""Airflow plugin file: the Trident1 → AIQ console (Store mappings, Integration health, Quarantine).

For a checkout or an image that puts ``plugins/`` on ``sys.path`` without installing the package.
An installed package (the wheel, ``pip install -e .``) registers the same plugin through its
``airflow.plugins`` entry point; this file then exposes nothing, so Airflow registers it once.
The plugin itself: ``trident1_aiq/console/plugin.py``.
"""

from __future__ import annotations

from trident1_aiq.console import plugin as _plugin

if not _plugin.registered_by_entry_point():
    Trident1ConsolePlugin = _plugin.Trident1ConsolePlugin
