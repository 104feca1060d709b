"""Defer heavy modules Great Expectations imports but our suites never use (peak RSS, issue 14).

``import great_expectations`` imports every core expectation, and one of them (the
KL-divergence expectation) and two metrics import ``scipy.stats`` and ``altair`` at
module level. They are used only inside those expectations' functions, never by the
null, range and set checks of ``validate.py``, yet they cost about 85 MB of RSS per
process (measured: scipy.stats ≈ 55 MB, altair with jsonschema and narwhals ≈ 32 MB),
a fifth of a 100,000-sale run's peak.

:func:`defer` puts a stand-in module in ``sys.modules`` under the real name, so
``import altair as alt`` and ``from scipy import stats`` bind the stand-in without
executing anything. The first attribute read from it imports the real module and
forwards to it, so code that does use them still works, only later. A module that is
already imported is left alone.

Not the standard library's ``importlib.util.LazyLoader``: on Python 3.11 a lazy module in
``sys.modules`` runs at the next ``import`` of its name (the import system reads its
``__spec__``), which is exactly what Great Expectations' imports do.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: What ``validate`` defers before importing Great Expectations.
GX_UNUSED = ("scipy.stats", "altair")

_lock = threading.RLock()


class DeferredModule(types.ModuleType):
    """Stands in ``sys.modules`` for a module until one of its attributes is read."""

    def __init__(self, name: str, spec: Any) -> None:
        super().__init__(name)
        # Found, not loaded: importlib, find_spec and inspect (which reads every module's
        # __file__) see a normal module. No __path__: importing a submodule loads the real one.
        self.__spec__ = spec
        self.__file__ = spec.origin
        self.__dict__["_deferred_real"] = None

    def __getattr__(self, attr: str) -> Any:  # only called for names the stand-in lacks
        return getattr(self._deferred_load(), attr)

    def __dir__(self) -> list[str]:
        return dir(self._deferred_load())

    def _deferred_load(self) -> types.ModuleType:
        real = self.__dict__["_deferred_real"]
        if real is not None:
            return real
        with _lock:
            real = self.__dict__["_deferred_real"]
            if real is None:
                name = self.__name__
                if sys.modules.get(name) is self:
                    del sys.modules[name]
                real = importlib.import_module(name)  # also sets the parent package's attribute
                self.__dict__["_deferred_real"] = real
        return real


def defer(*names: str) -> list[str]:
    """Put a :class:`DeferredModule` in ``sys.modules`` for each name not imported yet.

    Returns the names deferred (a name not installed, or already imported, is skipped).
    Its parent package is imported now (``scipy`` is small: it loads its own submodules
    lazily).
    """
    done = []
    with _lock:
        for name in names:
            if name in sys.modules:
                continue
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                continue
            if spec is None:
                continue
            stand_in = DeferredModule(name, spec)
            sys.modules[name] = stand_in
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, stand_in)
            done.append(name)
    return done


def withdraw(*names: str) -> None:
    """Take the stand-ins of ``names`` that have not loaded yet out of ``sys.modules`` (and
    their parent package): whoever bound one keeps it (and loads the real module through it
    on first use); every later import finds the real module the normal way. Without this, a
    later ``import scipy.stats.<submodule>`` through the stand-in would run that submodule twice.
    """
    with _lock:
        for name in names:
            module = sys.modules.get(name)
            if not (isinstance(module, DeferredModule) and module.__dict__["_deferred_real"] is None):
                continue
            del sys.modules[name]
            parent, _, child = name.rpartition(".")
            if parent and getattr(sys.modules.get(parent), child, None) is module:
                delattr(sys.modules[parent], child)


@contextmanager
def deferred(*names: str) -> Iterator[None]:
    """Defer ``names`` for the imports inside the block only (:func:`defer`, then :func:`withdraw`)."""
    done = defer(*names)
    try:
        yield
    finally:
        withdraw(*done)


def is_deferred(name: str) -> bool:
    """True while ``name`` is still a stand-in that has not imported the real module."""
    module = sys.modules.get(name)
    return isinstance(module, DeferredModule) and module.__dict__["_deferred_real"] is None
