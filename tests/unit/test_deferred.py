"""Deferred modules (peak RSS, issue 14): GX's unused scipy.stats and altair are not loaded
by validation, and still work when something does use them.

Each test runs in a fresh interpreter: what a process has imported cannot be undone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def _run(code: str, tmp_path: Path | None = None) -> dict:
    path = os.pathsep.join(p for p in (str(PLUGINS), str(tmp_path or "")) if p)
    env = dict(os.environ, PYTHONPATH=path, GX_ANALYTICS_ENABLED="false")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_validation_leaves_scipy_stats_and_altair_unloaded_and_they_still_work():
    out = _run("""
import json, sys
from trident1_aiq.ingest.normalize import normalize_sale
from trident1_aiq.ingest.validate import validate_sales
from trident1_aiq.ingest.deferred import GX_UNUSED, is_deferred
bad = normalize_sale({"id": "S-1"}, 0, "c", {}, "US")
good, rejects = validate_sales([bad], {"LOC-1"})
withdrawn = [n not in sys.modules for n in GX_UNUSED]  # GX holds its stand-ins; nobody else sees them
heavy = "scipy.stats._distn_infrastructure" in sys.modules or "altair.vegalite" in sys.modules
from scipy import stats
import altair as alt
entropy = round(float(stats.entropy([1, 2], [2, 1])), 4)
chart = alt.Chart.__name__
from scipy.stats._continuous_distns import norm_gen  # a submodule runs once: one class, one instance
print(json.dumps({"withdrawn": withdrawn, "heavy": heavy, "rejects": len(rejects), "entropy": entropy,
                  "chart": chart, "one_norm": isinstance(stats.norm, norm_gen),
                  "real": [type(sys.modules[n]).__name__ for n in GX_UNUSED]}))
""")
    assert out["withdrawn"] == [True, True] and out["heavy"] is False
    assert out["rejects"] == 1
    assert out["entropy"] == 0.2310 and out["chart"] == "Chart" and out["one_norm"] is True
    assert out["real"] == ["module", "module"]


def _package(tmp_path: Path, name: str, init: str, sub: str) -> None:
    """A package ``name`` whose ``__init__`` counts its runs in ``$<NAME>_RUNS``, then runs ``init``."""
    pkg = tmp_path / name
    pkg.mkdir()
    var = f"{name.upper()}_RUNS"
    (pkg / "__init__.py").write_text(f"import os\nos.environ['{var}'] = str(int(os.environ.get('{var}', 0)) + 1)\n{init}")
    (pkg / "sub.py").write_text(sub)


def test_a_stand_in_bound_inside_the_block_loads_the_real_module_after_it(tmp_path):
    _package(tmp_path, "heavy_two", "VALUE = 7\n",
             "import os\nos.environ['SUB2_RUNS'] = str(int(os.environ.get('SUB2_RUNS', 0)) + 1)\n")
    out = _run("""
import json, os, sys
from trident1_aiq.ingest.deferred import deferred
with deferred("heavy_two"):
    import heavy_two as bound  # what GX's module-level imports do
inside = os.environ.get("HEAVY_TWO_RUNS")
gone = "heavy_two" not in sys.modules
import heavy_two.sub
value = bound.VALUE
print(json.dumps({"inside": inside, "gone": gone, "value": value, "runs": os.environ["HEAVY_TWO_RUNS"],
                  "sub_runs": os.environ["SUB2_RUNS"]}))
""", tmp_path)
    assert out == {"inside": None, "gone": True, "value": 7, "runs": "1", "sub_runs": "1"}


def test_defer_runs_the_module_at_first_use_once(tmp_path):
    _package(tmp_path, "heavy_pkg", "VALUE = 42\n", "from . import VALUE\nDOUBLE = VALUE * 2\n")
    out = _run("""
import json, os, sys
from trident1_aiq.ingest.deferred import defer, is_deferred
assert defer("heavy_pkg", "json", "no_such_module_here") == ["heavy_pkg"]  # json is imported already
import heavy_pkg as h
before = os.environ.get("HEAVY_PKG_RUNS")
value = h.VALUE
import heavy_pkg.sub
print(json.dumps({"before": before, "value": value, "runs": os.environ["HEAVY_PKG_RUNS"], "double": heavy_pkg.sub.DOUBLE,
                  "deferred": is_deferred("heavy_pkg"), "real": type(sys.modules["heavy_pkg"]).__name__}))
""", tmp_path)
    assert out == {"before": None, "value": 42, "runs": "1", "double": 84, "deferred": False, "real": "module"}
